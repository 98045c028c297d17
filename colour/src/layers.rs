//! A payload cut into three layer texts and joined again.
//!
//! Each layer's text is `TCC1:<index>/<count>:<crc>:<part>`: the magic and
//! version, the layer's index (0–2) and the layer count (3 in version 1),
//! the CRC-32 (IEEE) of the whole payload in 8 lower-case hex digits, then
//! the layer's part of the payload. The parts are cut at character
//! boundaries, so every layer is valid UTF-8 text and reads as such in any
//! QR reader.

use std::fmt;

/// The start of every layer's text: ours, version 1.
pub const MAGIC: &str = "TCC1";
/// Layers in a version 1 code.
pub const LAYERS: usize = 3;
/// The longest payload a colour code carries (the payload limit of
/// `tessera-core`).
pub const MAX_PAYLOAD_BYTES: usize = 4096;

/// Why layer texts do not make a payload. Messages name what was wrong and
/// never quote the payload (it holds an activation key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayerError {
    #[error("colour code: not a Tessera colour code layer (no `TCC` header)")]
    NotALayer,
    #[error("colour code: version {0} is not supported (this reader knows version 1)")]
    UnsupportedVersion(String),
    #[error("colour code: the layer header is malformed ({0})")]
    BadHeader(&'static str),
    #[error("colour code: {found} layers; version 1 has {LAYERS}")]
    WrongLayerCount { found: usize },
    #[error("colour code: layer {0} of {LAYERS} could not be read")]
    MissingLayer(usize),
    #[error("colour code: layer {0} was read twice with different contents")]
    DuplicateLayer(usize),
    #[error("colour code: the layers belong to different codes")]
    Mismatch,
    #[error("colour code: the joined payload fails its checksum")]
    Checksum,
    #[error("colour code: the payload is {0} bytes; the limit is {MAX_PAYLOAD_BYTES}")]
    TooLong(usize),
}

/// One layer's text, parsed.
#[derive(Clone, PartialEq, Eq)]
pub struct Layer {
    pub index: usize,
    pub count: usize,
    pub crc: u32,
    pub part: String,
}

impl fmt::Debug for Layer {
    // The part is a piece of an activation payload: never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Layer")
            .field("index", &self.index)
            .field("count", &self.count)
            .field("crc", &format_args!("{:08x}", self.crc))
            .field("part_bytes", &self.part.len())
            .finish()
    }
}

/// Whether `text` claims to be a colour code layer (any version): a reader
/// that found one in a grey picture knows to read the colours.
pub fn is_layer(text: &str) -> bool {
    text.starts_with("TCC")
}

/// The three layer texts of `payload`.
pub fn split(payload: &str) -> Result<[String; LAYERS], LayerError> {
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(LayerError::TooLong(payload.len()));
    }
    let crc = crc32fast::hash(payload.as_bytes());
    let mut cuts = [0usize; LAYERS + 1];
    cuts[LAYERS] = payload.len();
    for (k, cut) in cuts.iter_mut().enumerate().take(LAYERS).skip(1) {
        let mut at = payload.len() * k / LAYERS;
        while !payload.is_char_boundary(at) {
            at += 1;
        }
        *cut = at;
    }
    Ok(std::array::from_fn(|i| {
        format!(
            "{MAGIC}:{i}/{LAYERS}:{crc:08x}:{}",
            &payload[cuts[i]..cuts[i + 1]]
        )
    }))
}

/// Reads one layer's text.
pub fn parse(text: &str) -> Result<Layer, LayerError> {
    let rest = text.strip_prefix("TCC").ok_or(LayerError::NotALayer)?;
    let (version, rest) = rest
        .split_once(':')
        .ok_or(LayerError::BadHeader("no `:` after the version"))?;
    if version != "1" {
        let shown: String = version.chars().take(8).collect();
        return Err(LayerError::UnsupportedVersion(shown));
    }
    let (position, rest) = rest
        .split_once(':')
        .ok_or(LayerError::BadHeader("no `:` after the layer index"))?;
    let (index, count) = position
        .split_once('/')
        .ok_or(LayerError::BadHeader("the position is not INDEX/COUNT"))?;
    let index = small_number(index).ok_or(LayerError::BadHeader("the layer index"))?;
    let count = small_number(count).ok_or(LayerError::BadHeader("the layer count"))?;
    if count != LAYERS {
        return Err(LayerError::WrongLayerCount { found: count });
    }
    if index >= count {
        return Err(LayerError::BadHeader(
            "the layer index is not below the count",
        ));
    }
    let (crc, part) = rest
        .split_once(':')
        .ok_or(LayerError::BadHeader("no `:` after the checksum"))?;
    if crc.len() != 8 || !crc.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(LayerError::BadHeader("the checksum is not 8 hex digits"));
    }
    let crc = u32::from_str_radix(crc, 16).map_err(|_| LayerError::BadHeader("the checksum"))?;
    Ok(Layer {
        index,
        count,
        crc,
        part: part.to_owned(),
    })
}

fn small_number(text: &str) -> Option<usize> {
    (!text.is_empty() && text.len() <= 2 && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// Joins the layers read from one picture (in any order; a layer read twice
/// the same way counts once) into the payload.
pub fn join(layers: &[Layer]) -> Result<String, LayerError> {
    let mut slots: [Option<&Layer>; LAYERS] = [None; LAYERS];
    for layer in layers {
        if layer.count != LAYERS {
            return Err(LayerError::WrongLayerCount { found: layer.count });
        }
        match slots[layer.index] {
            Some(seen) if seen != layer => return Err(LayerError::DuplicateLayer(layer.index)),
            _ => slots[layer.index] = Some(layer),
        }
    }
    let mut parts = Vec::with_capacity(LAYERS);
    for (i, slot) in slots.iter().enumerate() {
        parts.push(slot.ok_or(LayerError::MissingLayer(i))?);
    }
    if parts.iter().any(|l| l.crc != parts[0].crc) {
        return Err(LayerError::Mismatch);
    }
    let payload: String = parts.iter().map(|l| l.part.as_str()).collect();
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(LayerError::TooLong(payload.len()));
    }
    if crc32fast::hash(payload.as_bytes()) != parts[0].crc {
        return Err(LayerError::Checksum);
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn layers(payload: &str) -> Vec<Layer> {
        split(payload)
            .unwrap()
            .iter()
            .map(|t| parse(t).unwrap())
            .collect()
    }

    #[test]
    fn the_header_is_ours_and_versioned() {
        let [a, b, c] = split("abcdef").unwrap();
        let crc = crc32fast::hash(b"abcdef");
        assert_eq!(a, format!("TCC1:0/3:{crc:08x}:ab"));
        assert_eq!(b, format!("TCC1:1/3:{crc:08x}:cd"));
        assert_eq!(c, format!("TCC1:2/3:{crc:08x}:ef"));
    }

    #[test]
    fn parts_are_cut_between_characters() {
        let payload = "ééééé€";
        for text in split(payload).unwrap() {
            assert!(parse(&text).is_ok());
        }
        assert_eq!(join(&layers(payload)).unwrap(), payload);
    }

    #[test]
    fn refusals_name_what_is_wrong() {
        assert_eq!(parse("hello").unwrap_err(), LayerError::NotALayer);
        assert_eq!(
            parse("TCC2:0/3:00000000:x").unwrap_err(),
            LayerError::UnsupportedVersion("2".into())
        );
        assert_eq!(
            parse("TCC1:0/2:00000000:x").unwrap_err(),
            LayerError::WrongLayerCount { found: 2 }
        );
        assert!(matches!(
            parse("TCC1:3/3:00000000:x").unwrap_err(),
            LayerError::BadHeader(_)
        ));
        assert!(matches!(
            parse("TCC1:0/3:0000zz00:x").unwrap_err(),
            LayerError::BadHeader(_)
        ));
        let mut two = layers("payload one");
        two.pop();
        assert_eq!(join(&two).unwrap_err(), LayerError::MissingLayer(2));
        let mut mixed = layers("payload one");
        mixed[1] = layers("payload two")[1].clone();
        assert_eq!(join(&mixed).unwrap_err(), LayerError::Mismatch);
        let mut altered = layers("payload one");
        altered[1].part.push('x');
        assert_eq!(join(&altered).unwrap_err(), LayerError::Checksum);
        let mut twice = layers("payload one");
        let mut other = twice[0].clone();
        other.part = "zz".into();
        twice.push(other);
        assert_eq!(join(&twice).unwrap_err(), LayerError::DuplicateLayer(0));
        assert_eq!(
            split(&"x".repeat(MAX_PAYLOAD_BYTES + 1)).unwrap_err(),
            LayerError::TooLong(MAX_PAYLOAD_BYTES + 1)
        );
    }

    #[test]
    fn a_layer_prints_without_its_part() {
        let shown = format!("{:?}", layers("secret-activation-key")[0]);
        assert!(!shown.contains("secret"), "{shown}");
    }

    proptest! {
        #[test]
        fn any_payload_round_trips_in_any_order(payload in "\\PC{0,300}", order in 0usize..6) {
            let mut ls = layers(&payload);
            let perms = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
            let reordered: Vec<Layer> = perms[order].iter().map(|&i| ls[i].clone()).collect();
            prop_assert_eq!(join(&reordered).unwrap(), payload.clone());
            ls.push(ls[0].clone());
            prop_assert_eq!(join(&ls).unwrap(), payload);
        }

        #[test]
        fn parse_never_panics(text in "TCC\\PC{0,40}") {
            let _ = parse(&text);
        }
    }
}

//! Driving an activation to its end over gRPC, for the tests and benchmarks
//! that need an account and not the steps themselves.

use tessera_proto::v1 as pb;
use tonic::transport::Channel;

/// Activates `payload` with `pin` (chosen and confirmed for a first vault,
/// entered for an existing one), answering every other question the way a
/// user who wants only the account would (continue, PIN only, no
/// biometrics, no notifications); the `activated` view. Panics on any
/// error or on a state it cannot answer.
pub async fn activate(channel: Channel, payload: &str, pin: &str) -> pb::ActivationView {
    activate_seeing_device_code(channel, payload, pin).await.0
}

/// [`activate`], also returning the device code shown (a Tessera
/// activation's; `None` for otpauth), from which a test knows the device's
/// instance nonce (its first 10 digits).
pub async fn activate_seeing_device_code(
    channel: Channel,
    payload: &str,
    pin: &str,
) -> (pb::ActivationView, Option<String>) {
    let (view, device_code) = run_to_end(channel, payload, pin).await;
    if let Some(pb::activation_state::Kind::Failed(f)) =
        view.state.as_ref().and_then(|s| s.kind.as_ref())
    {
        panic!("the activation failed: {:?}", f.error);
    }
    (view, device_code)
}

/// Runs an activation of `payload` answering as [`activate`] does, to its
/// end: the `activated` or the `failed` view, and the device code shown.
/// Panics on a state it cannot answer or a refused event.
pub async fn run_to_end(
    channel: Channel,
    payload: &str,
    pin: &str,
) -> (pb::ActivationView, Option<String>) {
    use pb::activation_state::Kind as K;
    use pb::event::Kind as E;
    let mut c = pb::activation_client::ActivationClient::new(channel);
    let mut view = c
        .start(pb::StartActivationRequest {
            source: Some(pb::start_activation_request::Source::Payload(
                payload.into(),
            )),
        })
        .await
        .expect("starts the activation")
        .into_inner();
    let mut device_code = None;
    for _ in 0..20 {
        if let Some(K::DeviceCode(c)) = view.state.as_ref().and_then(|s| s.kind.as_ref()) {
            device_code = Some(c.code.clone());
        }
        let event = match view.state.as_ref().and_then(|s| s.kind.as_ref()) {
            Some(K::Activated(_) | K::Failed(_)) => return (view, device_code),
            Some(K::ChoosePin(_) | K::ConfirmPin(_) | K::EnterPin(_)) => E::Pin(pin.into()),
            Some(K::DeviceCode(_) | K::FinalizeCode(_)) => E::Continue(pb::Empty {}),
            Some(K::ChooseMethod(_)) => E::PinOnly(pb::Empty {}),
            Some(K::BiometricPermission(_) | K::NotificationPermission(_)) => E::Deny(pb::Empty {}),
            other => panic!("unexpected activation state {other:?}"),
        };
        view = c
            .send_event(pb::SendEventRequest {
                activation_id: view.id.clone(),
                revision: view.revision,
                event: Some(pb::Event { kind: Some(event) }),
            })
            .await
            .expect("the activation takes the event")
            .into_inner();
    }
    panic!("the activation did not finish in 20 steps")
}

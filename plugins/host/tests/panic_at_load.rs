//! A Rust plugin whose set-up panics while the host calls its entry
//! function: the helper catches the panic, the plugin is reported failed.
//! (Its own test binary: it sets an environment variable the mock reads.)

mod common;

use common::*;
use tessera_plugin_host::{PluginFolder, PluginHost, PluginStatus};

#[test]
fn a_plugin_panicking_at_load_is_reported_failed() {
    let dir = plugin_dir();
    copy_plugin("tessera_plugin_mock", dir.path(), "libmock.so");
    // SAFETY: this test binary runs this one test; no other thread reads the environment.
    unsafe { std::env::set_var("TESSERA_MOCK_PANIC_AT_LOAD", "1") };
    let host = PluginHost::load(&[PluginFolder::new(dir.path())], None);
    let plugins = host.plugins();
    assert_eq!(plugins.len(), 1);
    let PluginStatus::Failed(reason) = &plugins[0].status else {
        panic!("{plugins:#?}");
    };
    assert!(
        reason.contains("its entry function returned no plugin"),
        "{reason}"
    );
}

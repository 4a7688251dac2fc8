//! The config loader: a file (the bytes before the first NUL) and environment variables
//! (`K=V` lines after it). Loading may fail, never panic, and never quote the token.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;

const TOKEN: &str = "123456:FUZZTOKENSECRET";

fuzz_target!(|data: &[u8]| {
    let (file, env) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let mut vars: HashMap<String, String> = String::from_utf8_lossy(env)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    vars.insert("TELEGRAM_BOT_TOKEN".into(), TOKEN.into());
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("c.toml");
    std::fs::write(&path, file).expect("write");
    if let Err(e) = bot_server::BotConfig::load(Some(&path), &vars) {
        assert!(!e.to_string().contains("FUZZTOKENSECRET"), "{e}");
    }
});

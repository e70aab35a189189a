//! The real file system behind [`sparkrig_model::scenario::Files`].

use std::path::Path;

use sparkrig_model::scenario::{Files, Scenario, load_with};
use sparkrig_model::source::{Diagnostics, Override};

/// Reads from disk.
#[derive(Debug, Default, Clone, Copy)]
pub struct FsFiles;

impl Files for FsFiles {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn is_file(&self, path: &Path) -> bool {
        path.is_file()
    }

    fn list(&self, dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|rd| rd.filter_map(|e| e.ok()).filter_map(|e| e.file_name().into_string().ok()).collect())
            .unwrap_or_default();
        names.sort();
        names
    }
}

/// Loads and validates a scenario file (with an optional seed override).
pub fn load_scenario(path: &Path, seed: Option<u64>) -> Result<Scenario, Diagnostics> {
    load_with(path, &FsFiles, seed, &[])
}

/// Loads and validates a scenario file with `--set PATH=VALUE` overrides applied to its YAML
/// tree first (their problems are reported against the flag).
pub fn load_scenario_with(path: &Path, seed: Option<u64>, overrides: &[Override]) -> Result<Scenario, Diagnostics> {
    load_with(path, &FsFiles, seed, overrides)
}

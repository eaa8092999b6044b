//! File-system paths of the CLI: the default config and database locations (XDG base directories), `~`
//! expansion in paths the user writes, and the short `~/...` form used in messages.
//!
//! Owns path arithmetic only. Must never: create, read or write a file. Follows the XDG Base Directory
//! Specification (`$XDG_CONFIG_HOME`, `$XDG_DATA_HOME`) rather than an RFC.

use std::path::{Path, PathBuf};

use super::ConfigError;

/// `$XDG_CONFIG_HOME/mailsync/config.toml` (`~/.config/mailsync/config.toml` when unset).
pub fn default_config() -> Result<PathBuf, ConfigError> {
    dirs::config_dir()
        .map(|d| d.join("mailsync").join("config.toml"))
        .ok_or(ConfigError::NoDefaultDir { what: "config", option: "--config PATH or MAILSYNC_CONFIG" })
}

/// `$XDG_DATA_HOME/mailsync/mail.db` (`~/.local/share/mailsync/mail.db` when unset).
pub fn default_db() -> Result<PathBuf, ConfigError> {
    dirs::data_dir()
        .map(|d| d.join("mailsync").join("mail.db"))
        .ok_or(ConfigError::NoDefaultDir { what: "data", option: "--db PATH or MAILSYNC_DB" })
}

/// `~` or `~/rest` becomes the home directory (or home/rest); anything else, and `~user`, is unchanged.
pub fn expand_tilde(path: &Path) -> PathBuf {
    expand_tilde_with(path, dirs::home_dir().as_deref())
}

fn expand_tilde_with(path: &Path, home: Option<&Path>) -> PathBuf {
    let Some(home) = home else { return path.to_path_buf() };
    match path.strip_prefix("~") {
        Ok(rest) if rest.as_os_str().is_empty() => home.to_path_buf(),
        Ok(rest) => home.join(rest),
        Err(_) => path.to_path_buf(),
    }
}

/// The path as messages show it: under the home directory it starts with `~/`.
pub fn display(path: &Path) -> String {
    display_with(path, dirs::home_dir().as_deref())
}

fn display_with(path: &Path, home: Option<&Path>) -> String {
    match home.and_then(|h| path.strip_prefix(h).ok()) {
        Some(rest) if !rest.as_os_str().is_empty() => format!("~/{}", rest.display()),
        _ => path.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tilde_expands_only_at_the_start() {
        let home = Some(Path::new("/home/me"));
        assert_eq!(expand_tilde_with(Path::new("~/ca.pem"), home), PathBuf::from("/home/me/ca.pem"));
        assert_eq!(expand_tilde_with(Path::new("~"), home), PathBuf::from("/home/me"));
        assert_eq!(expand_tilde_with(Path::new("/etc/~/x"), home), PathBuf::from("/etc/~/x"));
        assert_eq!(expand_tilde_with(Path::new("~bob/x"), home), PathBuf::from("~bob/x"));
        assert_eq!(expand_tilde_with(Path::new("~/x"), None), PathBuf::from("~/x"));
    }

    #[test]
    fn display_shortens_the_home_directory() {
        let home = Some(Path::new("/home/me"));
        assert_eq!(display_with(Path::new("/home/me/.config/m.toml"), home), "~/.config/m.toml");
        assert_eq!(display_with(Path::new("/home/meadow/x"), home), "/home/meadow/x");
        assert_eq!(display_with(Path::new("/tmp/x"), home), "/tmp/x");
        assert_eq!(display_with(Path::new("/tmp/x"), None), "/tmp/x");
    }
}

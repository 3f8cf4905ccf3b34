//! An AI agent's own fields, checked the same way from the API and the command line.

/// A name owners recognise: 1 to 100 characters after trimming.
pub fn check_name(name: &str) -> Result<(), String> {
    let n = name.trim().chars().count();
    if n == 0 || n > 100 {
        return Err("1 to 100 characters".into());
    }
    Ok(())
}

/// A SIP URI the call menu can hand a caller to (`<Dial><Sip>`).
pub fn check_sip_uri(uri: &str) -> Result<(), String> {
    if !(uri.starts_with("sip:") || uri.starts_with("sips:"))
        || uri.len() > 255
        || uri.contains(char::is_whitespace)
    {
        return Err(format!(
            "'{uri}' is not a SIP URI; it looks like sip:frontdesk@example.sip.vapi.ai"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_sip_uris_are_checked() {
        assert!(check_name("Front desk").is_ok());
        assert!(check_name("  ").is_err());
        assert!(check_name(&"x".repeat(101)).is_err());
        assert!(check_sip_uri("sip:frontdesk@example.sip.vapi.ai").is_ok());
        assert!(check_sip_uri("sips:a@b").is_ok());
        assert!(check_sip_uri("http://nope").is_err());
        assert!(check_sip_uri("sip:a b").is_err());
    }
}

//! What an organization still lacks to work for real, in words that say what to do: shown
//! on the dashboard's Overview and Settings, in `/api/health`, and logged at start-up.

use crate::db::{calls, numbers, orgs};
use crate::domain::{NumberHandler, NumberRole};
use rusqlite::Connection;

/// An org's settings with what it still lacks to work for real, in words that say what
/// to do (one read of the settings and one of its numbers).
pub fn with_warnings(
    c: &Connection,
    org_id: i64,
) -> rusqlite::Result<Option<(orgs::OrgSettings, Vec<String>)>> {
    let Some(s) = orgs::settings(c, org_id)? else {
        return Ok(None);
    };
    let numbers = numbers::list_for_org(c, org_id, false)?;
    let mut out = Vec::new();
    if !numbers.iter().any(|n| n.role == NumberRole::Operational) {
        out.push(format!(
            "{} has no active operational number, so no customer call can be answered: import your Twilio number or buy one on the Numbers page.",
            s.name
        ));
    }
    if s.notification_number.is_none() {
        out.push("No notification number is set: voicemails and new leads are not texted to anyone. Set it in Settings → Business.".into());
    }
    if s.fallback_number.is_none() && numbers.iter().any(|n| n.handler == NumberHandler::Vapi) {
        out.push("No human fallback number is set: a caller the AI agent cannot help hears an apology instead of a person. Set it in Settings → Business.".into());
    }
    for (e164, calls) in calls::misrouted_ai_numbers(c, org_id)? {
        out.push(format!(
            "{e164} is answered by the AI agent, but Twilio sent {calls} call(s) in the last 7 days to this appliance instead of Vapi (they went to the agent's SIP address, the fallback number or voicemail, never the menu). On the Numbers page switch it to the menu and back to the AI agent (Vapi then takes over its Voice URL), or point its Voice URL at Vapi in the Twilio console."
        ));
    }
    Ok(Some((s, out)))
}

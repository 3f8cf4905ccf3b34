//! Feature flag keys and evaluation (SPEC §5.1).
//!
//! Code refers to flags only through [`FlagKey`], and a test checks that every key is
//! seeded by a migration: a guard on a flag that does not exist blocked every managed
//! telephony endpoint in the system this replaces (seed 000).

use super::roles::string_enum;

string_enum!(
    /// Every feature flag the code knows about.
    FlagKey {
        ManagedTelephony => "managed_telephony",
        MissedCallTextback => "missed_call_textback",
        AiAgents => "ai_agents",
        SmsOnboarding => "sms_onboarding",
        CallRecording => "call_recording",
    }
);

impl FlagKey {
    /// The name owners see (matches `feature_flags.flag_name`).
    pub fn display_name(self) -> &'static str {
        match self {
            FlagKey::ManagedTelephony => "Managed telephony",
            FlagKey::MissedCallTextback => "Missed-call text-back",
            FlagKey::AiAgents => "AI agents",
            FlagKey::SmsOnboarding => "SMS onboarding",
            FlagKey::CallRecording => "Call recording",
        }
    }
}

/// A flag's stored global state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlagState {
    pub enabled_globally: bool,
    pub rollout_percentage: u8,
}

/// A stable bucket in 0..100 for (org, flag): FNV-1a, so it never changes between
/// releases or platforms (unlike `std`'s randomly seeded hasher).
pub fn stable_bucket(org_id: i64, flag_key: &str) -> u8 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in org_id
        .to_string()
        .bytes()
        .chain([b':'])
        .chain(flag_key.bytes())
    {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash % 100) as u8
}

/// Org override if present, else the global switch and the rollout percentage.
pub fn evaluate(org_id: i64, key: FlagKey, state: FlagState, org_override: Option<bool>) -> bool {
    if let Some(enabled) = org_override {
        return enabled;
    }
    state.enabled_globally && stable_bucket(org_id, key.as_str()) < state.rollout_percentage
}

#[cfg(test)]
mod tests {
    use super::*;

    const ON_100: FlagState = FlagState {
        enabled_globally: true,
        rollout_percentage: 100,
    };

    #[test]
    fn an_override_wins_over_the_global_state() {
        let off = FlagState {
            enabled_globally: false,
            rollout_percentage: 0,
        };
        assert!(evaluate(1, FlagKey::AiAgents, off, Some(true)));
        assert!(!evaluate(1, FlagKey::AiAgents, ON_100, Some(false)));
    }

    #[test]
    fn a_globally_disabled_flag_is_off_whatever_the_rollout() {
        let state = FlagState {
            enabled_globally: false,
            rollout_percentage: 100,
        };
        assert!(!evaluate(7, FlagKey::ManagedTelephony, state, None));
    }

    #[test]
    fn rollout_zero_is_off_and_hundred_is_on_for_every_org() {
        let zero = FlagState {
            enabled_globally: true,
            rollout_percentage: 0,
        };
        for org in 1..200 {
            assert!(!evaluate(org, FlagKey::SmsOnboarding, zero, None));
            assert!(evaluate(org, FlagKey::SmsOnboarding, ON_100, None));
        }
    }

    #[test]
    fn the_bucket_is_stable_and_roughly_uniform() {
        assert_eq!(
            stable_bucket(42, "ai_agents"),
            stable_bucket(42, "ai_agents")
        );
        let half = FlagState {
            enabled_globally: true,
            rollout_percentage: 50,
        };
        let on = (1..=1000)
            .filter(|org| evaluate(*org, FlagKey::AiAgents, half, None))
            .count();
        assert!(
            (400..=600).contains(&on),
            "50% rollout enabled {on} of 1000 orgs"
        );
    }
}

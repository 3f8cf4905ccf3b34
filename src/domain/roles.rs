//! Closed sets stored as text: number roles, handlers, origins (SPEC §2, §3.2) and user roles.

/// Declares a fieldless enum stored as a lowercase string, with `as_str`, `parse`, `ALL`
/// and serde support. `parse` errors list the accepted values so the caller can fix input.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!(
                        "'{}' is not a valid {}; use one of: {}",
                        other,
                        stringify!($name),
                        [$($text),+].join(", ")
                    )),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                $name::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use string_enum;

string_enum!(
    /// What a call or text to a number may do (SPEC §3.2). Stored, never inferred.
    NumberRole { Operational => "operational", Onboarding => "onboarding", System => "system" }
);

string_enum!(
    /// Who answers a number's calls: this appliance's IVR, or a Vapi agent.
    NumberHandler { Ivr => "ivr", Vapi => "vapi" }
);

string_enum!(
    /// How a number came to the appliance.
    NumberOrigin { Managed => "managed", Imported => "imported", Manual => "manual" }
);

string_enum!(
    /// Whether a number still answers here. A released number's row stays, for its calls'
    /// history; the same E.164 may be brought again as a new row.
    NumberStatus { Active => "active", Released => "released" }
);

string_enum!(
    /// A dashboard user's role: owners and admins may change things, viewers only read.
    UserRole { Owner => "owner", Admin => "admin", Viewer => "viewer" }
);

impl UserRole {
    /// Owners and admins may change settings; viewers are read-only (SPEC §7).
    pub fn can_write(self) -> bool {
        matches!(self, UserRole::Owner | UserRole::Admin)
    }
}

/// Checks a role/handler combination before it is stored (SPEC §3.2: an onboarding number
/// is SMS-only, so the AI may never answer it).
pub fn validate_number_assignment(role: NumberRole, handler: NumberHandler) -> Result<(), String> {
    if role == NumberRole::Onboarding && handler == NumberHandler::Vapi {
        return Err("an onboarding number is for text messages only and cannot be answered by an AI agent; \
                    use handler 'ivr' or give the number the 'operational' role"
            .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_round_trips_through_its_text() {
        for role in NumberRole::ALL {
            assert_eq!(NumberRole::parse(role.as_str()), Ok(*role));
        }
        for role in UserRole::ALL {
            assert_eq!(UserRole::parse(role.as_str()), Ok(*role));
        }
        for status in NumberStatus::ALL {
            assert_eq!(NumberStatus::parse(status.as_str()), Ok(*status));
        }
    }

    #[test]
    fn an_unknown_role_names_the_accepted_values() {
        let err = NumberRole::parse("sales").unwrap_err();
        assert_eq!(
            err,
            "'sales' is not a valid NumberRole; use one of: operational, onboarding, system"
        );
    }

    #[test]
    fn onboarding_numbers_cannot_be_handled_by_vapi() {
        assert!(validate_number_assignment(NumberRole::Onboarding, NumberHandler::Vapi).is_err());
        assert!(validate_number_assignment(NumberRole::Onboarding, NumberHandler::Ivr).is_ok());
        assert!(validate_number_assignment(NumberRole::Operational, NumberHandler::Vapi).is_ok());
    }

    #[test]
    fn only_owners_and_admins_can_write() {
        assert!(UserRole::Owner.can_write());
        assert!(UserRole::Admin.can_write());
        assert!(!UserRole::Viewer.can_write());
    }
}

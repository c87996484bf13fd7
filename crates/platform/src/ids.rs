//! Id newtypes. Every id is a UUIDv7: unique without coordination and ordered by creation time,
//! which makes them usable as pagination cursors. Stored as `UUID` on PostgreSQL and as a 16-byte
//! `BLOB` on SQLite; both order them bytewise, so by time.

/// Declares an id newtype with parsing, display, serde, OpenAPI and sqlx support.
#[macro_export]
macro_rules! new_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize, sqlx::Type,
        )]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(pub uuid::Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                uuid::Uuid::parse_str(s).map(Self)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Uuid)))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

new_id!(
    /// A user account.
    UserId
);
new_id!(
    /// A node of the organization tree.
    OrgId
);
new_id!(
    /// A chain of rotated refresh tokens that descend from one login.
    TokenFamilyId
);
new_id!(
    /// A durable background job.
    JobId
);
new_id!(
    /// An invitation of a phone number to an organization.
    InvitationId
);
new_id!(
    /// A child a parent added (a nickname and a birth month or grade, nothing more).
    ChildId
);

/// A random code of `len` characters without look-alikes (no I, O, 0, 1): easy to read out or
/// type. Each character carries 5 bits (8 characters: 40 bits; 12: 60).
pub fn readable_code(len: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    (0..len)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

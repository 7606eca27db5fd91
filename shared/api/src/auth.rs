//! Bearer JWTs for the admin API: HS256 locally; on AWS the HTTP API's JWT authorizer has
//! verified the token and the Lambda edge hands its claims over as an [`Identity`].

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// May read and act.
    Operator,
    /// May only read.
    Viewer,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "operator" => Some(Role::Operator),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }
}

/// The caller, once authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub sub: String,
    pub role: Role,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    pub exp: i64,
    pub iat: i64,
}

/// A secret that never prints.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, AuthError> {
        let b = bytes.into();
        if b.len() < 16 {
            return Err(AuthError::WeakSecret);
        }
        Ok(Self(b))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("missing bearer token: send Authorization: Bearer <token> (storesync token prints one)")]
    Missing,
    #[error("invalid token: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
    #[error("the JWT secret must be at least 16 bytes")]
    WeakSecret,
    #[error("no identity from the gateway authorizer")]
    NoGatewayIdentity,
}

/// How the router authenticates.
#[derive(Debug, Clone)]
pub enum Auth {
    /// Verify an HS256 bearer token with this secret (the local runtime).
    Hs256(Secret),
    /// Trust the [`Identity`] that the Lambda edge put into the request's extensions from the
    /// API Gateway JWT authorizer's claims.
    Gateway,
}

pub fn issue(secret: &Secret, sub: &str, role: Role, ttl_secs: i64) -> Result<String, AuthError> {
    let now = chrono::Utc::now().timestamp();
    let claims = Claims { sub: sub.to_string(), role, exp: now + ttl_secs, iat: now };
    Ok(encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(&secret.0))?)
}

pub fn verify(secret: &Secret, token: &str) -> Result<Identity, AuthError> {
    let mut v = Validation::new(Algorithm::HS256);
    v.set_required_spec_claims(&["exp", "sub"]);
    let data = decode::<Claims>(token, &DecodingKey::from_secret(&secret.0), &v)?;
    Ok(Identity { sub: data.claims.sub, role: data.claims.role })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_then_verify() {
        let s = Secret::new("0123456789abcdef0123").unwrap();
        let t = issue(&s, "dana", Role::Operator, 60).unwrap();
        assert_eq!(verify(&s, &t).unwrap(), Identity { sub: "dana".into(), role: Role::Operator });
        let other = Secret::new("another-secret-of-20b").unwrap();
        assert!(matches!(verify(&other, &t), Err(AuthError::Invalid(_))));
        let expired = issue(&s, "dana", Role::Operator, -3600).unwrap();
        assert!(verify(&s, &expired).unwrap_err().to_string().contains("Expired"));
        assert!(matches!(Secret::new("short"), Err(AuthError::WeakSecret)));
    }
}

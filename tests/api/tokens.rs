//! Access tokens: expiry, tampering, algorithm pinning (`none`, HS512, RS256 confusion), issuer
//! and audience.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use e2e::{TEST_JWT_SECRET, assert_problem, both_databases, token_of};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn claims(sub: &Value, exp: i64) -> Value {
    json!({"sub": sub, "role": "admin", "iss": "parentschool", "aud": "parentschool-api", "iat": now(), "exp": exp})
}

fn sign(alg: Algorithm, claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(secret.as_bytes()))
        .unwrap_or_else(|e| panic!("sign: {e}"))
}

/// A token with any header, body and signature, bypassing the library.
fn handmade(header: &Value, claims: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        signature
    )
}

both_databases! {
    async fn bad_tokens_are_rejected(app) {
        let reg = app.register("13812345678", "abc12345x").await;
        let id = reg["user"]["id"].clone();
        let good = token_of(&reg);
        let (status, _) = app.get("/api/v1/me", Some(&good)).await;
        assert_eq!(status, 200);

        // A correctly signed token with our own secret still works (the forging helper is sound)…
        let forged_ok = sign(Algorithm::HS256, &claims(&id, now() + 600), TEST_JWT_SECRET);
        let (status, _) = app.get("/api/v1/me", Some(&forged_ok)).await;
        assert_eq!(status, 200);

        // …but an expired one does not.
        let expired = sign(Algorithm::HS256, &claims(&id, now() - 120), TEST_JWT_SECRET);
        let (status, body) = app.get("/api/v1/me", Some(&expired)).await;
        assert_problem(status, &body, 401, "token_expired");

        let cases: Vec<(&str, String)> = vec![
            ("missing signature", {
                let mut parts: Vec<&str> = good.split('.').collect();
                parts[2] = "";
                parts.join(".")
            }),
            ("tampered payload (role raised to admin)", {
                let parts: Vec<&str> = good.split('.').collect();
                let payload = URL_SAFE_NO_PAD.decode(parts[1]).unwrap_or_default();
                let mut claims: Value = serde_json::from_slice(&payload).unwrap_or_default();
                claims["role"] = json!("admin");
                format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(claims.to_string()), parts[2])
            }),
            ("alg none", handmade(&json!({"alg": "none", "typ": "JWT"}), &claims(&id, now() + 600), "")),
            ("HS512 with the right secret", sign(Algorithm::HS512, &claims(&id, now() + 600), TEST_JWT_SECRET)),
            ("HS256 with another secret", sign(Algorithm::HS256, &claims(&id, now() + 600), "another-secret-0123456789abcdef0123")),
            ("RS256 header, HMAC signature (key confusion)", {
                // What a verifier that trusted the header's algorithm and used the HMAC secret
                // as the "public key" would accept.
                let header = json!({"alg": "RS256", "typ": "JWT"});
                let body = claims(&id, now() + 600);
                let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(body.to_string()));
                let key = EncodingKey::from_secret(TEST_JWT_SECRET.as_bytes());
                let sig = jsonwebtoken::crypto::sign(input.as_bytes(), &key, Algorithm::HS256).unwrap_or_default();
                format!("{input}.{sig}")
            }),
            ("wrong issuer", sign(Algorithm::HS256, &{
                let mut c = claims(&id, now() + 600);
                c["iss"] = json!("someone-else");
                c
            }, TEST_JWT_SECRET)),
            ("wrong audience", sign(Algorithm::HS256, &{
                let mut c = claims(&id, now() + 600);
                c["aud"] = json!("other-api");
                c
            }, TEST_JWT_SECRET)),
            ("no expiry", sign(Algorithm::HS256, &{
                let mut c = claims(&id, now() + 600);
                if let Some(o) = c.as_object_mut() { o.remove("exp"); }
                c
            }, TEST_JWT_SECRET)),
            ("garbage", "not.a.jwt".to_owned()),
        ];
        for (what, token) in cases {
            let (status, body) = app.get("/api/v1/me", Some(&token)).await;
            assert_eq!(status, 401, "{what}: {body}");
            assert_eq!(body["code"], "invalid_token", "{what}: {body}");
        }

        let (status, body) = app.get("/api/v1/me", None).await;
        assert_problem(status, &body, 401, "unauthenticated");
    }
}

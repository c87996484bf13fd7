//! A certificate as a file (PNG to share in WeChat, PDF to print) for its holder and the staff
//! in scope, drawn by `render` off the request's thread; and the issuer's seal (公章) image,
//! which staff upload for their organization and every certificate it issues then carries.

use bytes::Bytes;
use platform::auth::AuthUser;
use platform::ids::OrgId;

use super::{hours, normalise_code, render, store};
use crate::{Evaluation, EvaluationError, EvaluationResult};

/// Largest seal image accepted.
pub const MAX_SEAL_BYTES: usize = 1024 * 1024;

/// What a certificate is drawn as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Png,
    Pdf,
}

impl Format {
    /// From a file name's extension (`ABCD….png`), with the code before it.
    pub fn split(file: &str) -> Option<(&str, Self)> {
        let (code, ext) = file.rsplit_once('.')?;
        match ext.to_ascii_lowercase().as_str() {
            "png" => Some((code, Self::Png)),
            "pdf" => Some((code, Self::Pdf)),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Pdf => "application/pdf",
        }
    }
}

/// `2026 年 12 月 7 日`, in China.
fn china_date(t: platform::Timestamp) -> String {
    let d = t.to_offset_date_time().to_offset(platform::clock::CHINA).date();
    format!("{} 年 {} 月 {} 日", d.year(), u8::from(d.month()), d.day())
}

impl Evaluation {
    /// The certificate `code` drawn as `format`, for its holder and the staff who manage its
    /// rule's organization (404 for anyone else); `base_url` starts the verification link.
    pub async fn certificate_file(
        &self,
        user: &AuthUser,
        code: &str,
        format: Format,
        base_url: &str,
    ) -> EvaluationResult<(Vec<u8>, String)> {
        let cert = store::by_code(&self.db, &normalise_code(code))
            .await?
            .ok_or(EvaluationError::CertificateNotFound)?;
        if cert.user_id != user.id && !self.manages(user, &cert.scope_path).await? {
            return Err(EvaluationError::CertificateNotFound);
        }
        let font = self.font.clone().ok_or(EvaluationError::FontMissing)?;
        let seal = match store::seal_key(&self.db, cert.issuer_org_id).await? {
            Some(key) => render::decode_png(&self.store.get_bytes(&key).await?),
            None => None,
        };
        let url = format!(
            "{}/verify/{}",
            self.public_url.as_deref().unwrap_or(base_url),
            cert.code
        );
        let date = china_date(cert.issued_at);
        let name = format!(
            "{}-{}.{}",
            cert.title,
            cert.code,
            if format == Format::Png { "png" } else { "pdf" }
        );
        let bytes = tokio::task::spawn_blocking(move || {
            let card = render::Card {
                title: &cert.title,
                name: &cert.name,
                hours: hours(cert.credited_ms),
                issuer: &cert.issuer_name,
                date: &date,
                code: &cert.code,
                url: &url,
                revoked: cert.revoked_at.is_some(),
                seal: seal.as_ref(),
            };
            let picture = render::draw(&font, &card);
            if !picture.missing.is_empty() {
                let missing = &picture.missing;
                tracing::warn!(code = %cert.code, ?missing, "the certificate font lacks some characters");
            }
            match format {
                Format::Png => render::png(&picture),
                Format::Pdf => Ok(render::pdf(&picture, &cert.title)),
            }
        })
        .await
        .map_err(|e| EvaluationError::Internal(e.into()))?
        .map_err(|e| EvaluationError::Internal(anyhow::anyhow!(e)))?;
        Ok((bytes, name))
    }

    /// Stores `body` (a PNG, at most 1 MB and 2000 × 2000) as the seal of `org`, which the
    /// caller manages.
    pub async fn set_seal(&self, user: &AuthUser, org: OrgId, body: Bytes) -> EvaluationResult<()> {
        platform::orgs::require_scope(&self.db, user, org).await?;
        if body.len() > MAX_SEAL_BYTES || render::decode_png(&body).is_none() {
            return Err(EvaluationError::BadSeal);
        }
        let key = format!("seals/{org}/{}.png", uuid::Uuid::now_v7().simple());
        self.store.put_bytes(&key, body).await?;
        if let Some(old) = store::set_seal(&self.db, org, &key, self.clock.now()).await? {
            // Nothing points at it any more; a failure only leaves an orphan object.
            let _ = self.store.delete(&old).await;
        }
        Ok(())
    }

    /// The seal image of `org` (staff who manage it); 404 when none was uploaded.
    pub async fn seal(&self, user: &AuthUser, org: OrgId) -> EvaluationResult<Bytes> {
        platform::orgs::require_scope(&self.db, user, org).await?;
        let key = store::seal_key(&self.db, org)
            .await?
            .ok_or(EvaluationError::SealNotFound)?;
        Ok(self.store.get_bytes(&key).await?)
    }

    /// Removes the seal of `org`: later certificates are drawn without one.
    pub async fn delete_seal(&self, user: &AuthUser, org: OrgId) -> EvaluationResult<()> {
        platform::orgs::require_scope(&self.db, user, org).await?;
        if let Some(old) = store::delete_seal(&self.db, org).await? {
            let _ = self.store.delete(&old).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_name_their_format() {
        assert_eq!(Format::split("ABCD2345EFGH.png"), Some(("ABCD2345EFGH", Format::Png)));
        assert_eq!(Format::split("abcd.PDF"), Some(("abcd", Format::Pdf)));
        assert_eq!(Format::split("ABCD.jpg"), None);
        assert_eq!(Format::split("ABCD"), None);
        assert_eq!(china_date(platform::Timestamp(1_796_601_600_000)), "2026 年 12 月 7 日");
    }
}

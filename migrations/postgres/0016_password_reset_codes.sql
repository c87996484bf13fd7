-- 忘记密码 by SMS: one pending code per phone number (a new request replaces it), kept as a
-- hash with its expiry and the wrong tries left. Only for registered, active accounts.
CREATE TABLE password_reset_codes (
    phone       TEXT PRIMARY KEY,
    code_hash   TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    tries_left  INTEGER NOT NULL
);

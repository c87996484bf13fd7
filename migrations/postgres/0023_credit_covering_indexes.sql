-- Reports and evaluations sum each member's credit in a period: with the amount in the index
-- (`INCLUDE`), PostgreSQL answers from the index alone, in user order, without the table.
DROP INDEX study_credits_user;
CREATE INDEX study_credits_user ON study_credits (user_id, earned_at) INCLUDE (credited_ms);
DROP INDEX live_credits_user;
CREATE INDEX live_credits_user ON live_credits (user_id, earned_at) INCLUDE (credited_ms);

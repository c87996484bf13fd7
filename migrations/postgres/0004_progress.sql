-- Watch progress and study credits (学时). Federations award credits from these numbers, so
-- every figure can be recomputed from what is stored here.

-- The union of the ranges a user actually played of an asset (JSON [[from_ms, to_ms], …],
-- sorted and disjoint), only ever grown by credited time.
CREATE TABLE watch_progress (
    user_id       UUID NOT NULL REFERENCES users (id),
    asset_id      UUID NOT NULL REFERENCES assets (id),
    ranges        TEXT NOT NULL,
    watched_ms    BIGINT NOT NULL,
    position_ms   BIGINT NOT NULL,
    completed_at  BIGINT,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (user_id, asset_id)
);

-- Each credited increment, with when it was earned: totals per term are sums over this log.
CREATE TABLE study_credits (
    id           UUID PRIMARY KEY,
    user_id      UUID NOT NULL REFERENCES users (id),
    asset_id     UUID NOT NULL REFERENCES assets (id),
    session_id   UUID NOT NULL,
    credited_ms  BIGINT NOT NULL,
    earned_at    BIGINT NOT NULL
);
CREATE INDEX study_credits_user ON study_credits (user_id, earned_at);

-- Per user, how much new watched time may still be credited: it grows at twice the wall-clock
-- rate (the fastest playback speed) and is shared by all the user's sessions and tabs.
CREATE TABLE credit_allowance (
    user_id       UUID PRIMARY KEY REFERENCES users (id),
    allowance_ms  BIGINT NOT NULL,
    last_at       BIGINT NOT NULL
);

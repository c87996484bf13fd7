-- A course's editors may mark a lesson's quiz as required: the course counts as completed (for
-- certificate rules that count a list's courses) only once it is passed, whatever the rule.
ALTER TABLE lesson_quizzes ADD COLUMN required BOOLEAN NOT NULL DEFAULT 0;

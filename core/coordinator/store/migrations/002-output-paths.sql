-- Lets a folder scan recognise files the farm itself wrote (committed outputs and targets), so
-- running `encode <folder>` again never encodes its own outputs.
CREATE INDEX jobs_final_path ON jobs (final_path) WHERE final_path IS NOT NULL;
CREATE INDEX jobs_output_path ON jobs (output_path);

-- The identity (device:inode) of the verified temp file a job is committing. link() keeps the
-- inode, so after a crash between linking the output into place and recording the job as done,
-- recovery can recognise the file at the target as this job's own output instead of redoing it.
ALTER TABLE jobs ADD COLUMN commit_file_id TEXT;

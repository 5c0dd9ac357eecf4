-- Give up on the retention lock instead of queueing writers behind it for long.
SELECT set_config('lock_timeout', :lock_timeout, true);

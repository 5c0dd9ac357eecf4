-- Drop exactly the chunk covering [range_start, range_end); returns the dropped chunk names.
SELECT drop_chunks('metrics', older_than => :range_end, newer_than => :range_start)::text;

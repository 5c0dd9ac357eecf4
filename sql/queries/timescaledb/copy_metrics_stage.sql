COPY metrics_stage (time, run_k, name_k, step, value) FROM STDIN (FORMAT BINARY);

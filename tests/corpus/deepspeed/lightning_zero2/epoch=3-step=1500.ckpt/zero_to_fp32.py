# the recovery script DeepSpeed copies beside `latest`

"""Past one machine: Dask training and bulk scoring on partitioned Parquet (local or s3://)."""

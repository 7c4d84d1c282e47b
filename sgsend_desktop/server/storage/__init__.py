"""Storage backends behind one interface: `disk` (local files) and `s3` (any S3-compatible store)."""

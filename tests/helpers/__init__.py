"""Shared test fixtures: real `sgsend serve` subprocesses and a real SeaweedFS S3 server."""

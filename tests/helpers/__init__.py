"""What many tests share: running the CLI, test photos and broken files, tiny generators and
runs, Ctrl+C, a local HTTP server, video clips, and the host-work check."""

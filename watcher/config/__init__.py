"""Configuration: the TOML file in, validated frozen settings out; credentials and batch IDs."""

//! A local secrets file (TOML or JSON) for development without a cloud account.

pub mod approle;
pub mod token_fields;
pub mod userpass;

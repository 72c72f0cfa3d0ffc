pub mod userpass;

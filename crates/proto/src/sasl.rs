//! SASL mechanisms. Filled in by the SASL work.

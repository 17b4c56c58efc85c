/// DNSAuth: who may do what. TSIG keys and message authentication (RFC 8945), and access control
/// lists of address prefixes and keys used for zone transfers and NOTIFY.

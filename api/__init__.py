"""HTTP façade: native REST, Plugsurfing OIOI v4 and OCPI 2.2.1 over one session model."""

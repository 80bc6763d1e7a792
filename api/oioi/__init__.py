"""Plugsurfing OIOI v4, CPO side: one POST endpoint, dispatch by call name."""

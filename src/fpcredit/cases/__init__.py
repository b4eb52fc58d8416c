"""Cases: objections, credit repair, correction and human-review requests, with deadlines (R15, R23, R39)."""

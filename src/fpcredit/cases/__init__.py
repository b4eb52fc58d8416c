"""Cases: objections, credit repair, correction and review requests, with their deadlines."""

"""What Vafa's server-rendered web front ends share (the operator console and the member portal): the
session cookie and its CSRF token, the calls to the other services with the signed-in person's own
token, the words and numbers of each language, page rendering, security headers and error pages."""

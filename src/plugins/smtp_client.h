// A small SMTP client for MailsNote: one mail over a plain socket, upgraded with STARTTLS when
// the server offers it, authenticated with AUTH PLAIN or LOGIN when a password is given.
#pragma once

#include <string>

#include "dlnest/status.h"

namespace dlnest {

struct MailServer {
  std::string host = "localhost";
  int port = 25;
  std::string username;   ///< with a password: the login; also the default sender and recipient
  std::string password;   ///< empty: no AUTH
  double timeout_s = 30;  ///< for the connection and each reply
};

struct Mail {
  std::string from;  ///< envelope and From: address
  std::string to;    ///< envelope and To: address
  std::string from_name = "DLNest Mail Plugin";
  std::string to_name = "DLNest User";
  std::string subject;
  std::string body;  ///< UTF-8 text, lines ended by \n
};

/// The text of `mail` as sent after DATA: headers, a blank line, the body; CRLF line ends,
/// lines starting with '.' doubled.
std::string mail_message(const Mail& mail);

/// Sends `mail` through `server`. An error names the server and the step that failed with the
/// server's reply ("smtp localhost:25: RCPT TO: 550 no such user"); it never throws.
Status send_mail(const MailServer& server, const Mail& mail);

}  // namespace dlnest

// MailsNote: a mail when the run fails ("Aborting") or ends ("TrainFinish"), as listed in
// `enable_list`, through the SMTP server `host`:`port`, logged in with `username` / `password`
// when a password is set. The mail goes from and to `username` (dlnest@localhost when empty).
// A mail that cannot be sent is logged; the run goes on.
#include <algorithm>

#include "dlnest/train_plugin.h"
#include "plugins/smtp_client.h"

namespace dlnest {
namespace {

class MailsNote : public TrainPlugin {
 public:
  void init() override {
    const Json& port = options()["port"];
    if (!port.is_number_integer() || port.get<int64_t>() <= 0 || port.get<int64_t>() > 65535) {
      throw std::runtime_error("port must be a TCP port (1-65535), got " + port.dump());
    }
    server_.host = option<std::string>("host", "localhost");
    server_.port = port.get<int>();
    server_.username = option<std::string>("username", "");
    server_.password = option<std::string>("password", "");
    enabled_ = option<std::vector<std::string>>("enable_list", {});
  }

  void on_abort(const std::string& error) override {
    if (!enabled("Aborting")) return;
    send("Train Aborted!", "Train task in " + root() + " aborted with this error\n" + error + "\n");
  }

  void on_finish() override {
    if (!enabled("TrainFinish")) return;
    std::string body = "Train task in " + root() + " finished\n";
    const std::string results = latest_values();
    if (!results.empty()) body += "\nThe final results are: \n" + results + "\n";
    send("Train Finished!", body);
  }

 private:
  bool enabled(const std::string& event) const {
    return std::find(enabled_.begin(), enabled_.end(), event) != enabled_.end();
  }

  std::string root() const { return args().value("root_file_path", package_dir()); }

  /// "| key : value" for the last number of each of the log's lists.
  std::string latest_values() const {
    std::string out;
    for (const auto& [key, value] : log().items()) {
      if (value.is_array() && !value.empty() && value.back().is_number()) {
        out += "| " + key + " : " + value.back().dump() + " ";
      } else if (value.is_number()) {
        out += "| " + key + " : " + value.dump() + " ";
      }
    }
    return out;
  }

  void send(const std::string& subject, const std::string& body) {
    Mail mail;
    mail.from = server_.username.empty() ? "dlnest@localhost" : server_.username;
    mail.to = mail.from;
    mail.subject = subject;
    mail.body = body;
    const Status sent = send_mail(server_, mail);
    if (!sent.is_ok()) {
      write_log(LogLevel::kError, "cannot send \"" + subject + "\": " + sent.message());
      return;
    }
    write_log(LogLevel::kInfo, "sent \"" + subject + "\" to " + mail.to);
  }

  MailServer server_;
  std::vector<std::string> enabled_;
};

}  // namespace
}  // namespace dlnest

using dlnest::MailsNote;
DLNEST_REGISTER_PLUGIN(MailsNote);

// The HTTP layer of the server: routes of docs/api.md over TaskManager, with cpp-httplib.
#include "server/server.h"

#include <fcntl.h>
#include <httplib.h>
#include <limits.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <thread>

#include "dashboard/dashboard.h"
#include "devices/probe_factory.h"
#include "env/path.h"
#include "project/project_builder.h"
#include "project/project_plugins.h"
#include "server/http_transport.h"
#include "server/memory_estimate.h"
#include "server/message_log.h"
#include "server/peer_owner.h"
#include "server/request_guard.h"
#include "server/request_params.h"
#include "server/task_manager.h"
#include "server/task_output.h"
#include "state/state_store.h"

namespace dlnest {
namespace {

/// Bodies larger than this are refused (HTTP 413): JSON and multipart/form-data ones.
constexpr size_t kMaxBody = 1 << 20;
/// cpp-httplib 0.11.4 refuses larger application/x-www-form-urlencoded bodies (HTTP 413) before
/// any setting applies: its CPPHTTPLIB_FORM_URL_ENCODED_PAYLOAD_MAX_LENGTH, compiled into
/// Debian's libcpp-httplib. Only the message names it.
constexpr size_t kMaxFormBody = 8192;
constexpr int64_t kDefaultOutputBytes = 64 * 1024;
constexpr int64_t kMaxOutputBytes = 4 << 20;
/// The style of a "[DLNest Analyze Process] " line prefix (the original analyzer's 'app' style).
constexpr const char* kAnalyzerPrefixStyle = "#2afa38 bold";

// cpp-httplib's connection limits (docs/server.md, "HTTP limits"). A connection holds one thread
// of the pool from accept until it closes, busy or not; the timeouts bound how long a client that
// stalls or idles keeps it.
/// Threads serving connections: only this many stalled clients at once delay everyone else
/// (cpp-httplib's default is one per core, at least 8).
constexpr size_t kHttpThreads = 64;
/// A connection that sends nothing for this long in the middle of a request is closed.
constexpr time_t kReadTimeoutS = 5;
/// A reply that the client does not take for this long is abandoned.
constexpr time_t kWriteTimeoutS = 5;
/// A connection idle for this long before its first or next request is closed.
constexpr time_t kKeepAliveTimeoutS = 5;
/// Requests over one keep-alive connection before the server closes it.
constexpr size_t kKeepAliveMaxRequests = 100;
/// Connections the kernel completes before the server accepts them. cpp-httplib listens with 5:
/// a burst of clients then finds the queue full and waits a second for a SYN retransmit.
constexpr int kListenBacklog = 128;

std::string own_dir() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? path::parent(std::string(buf, static_cast<size_t>(n))) : ".";
}

/// The token in `<state_dir>/token`, created (mode 0600) with 32 random hex digits when missing.
/// An existing token file that others may read is an error.
Result<std::string> load_or_create_token(const std::string& state_dir) {
  const std::string file = path::join(state_dir, "token");
  DLNEST_RETURN_IF_ERROR(check_owner_only(file, "token file"));
  std::ifstream in(file);
  std::string token;
  if (in >> token && token.size() >= 16) return token;
  unsigned char bytes[16];
  std::ifstream random("/dev/urandom", std::ios::binary);
  if (!random.read(reinterpret_cast<char*>(bytes), sizeof bytes)) {
    return Status::io_error("cannot read /dev/urandom for the server token");
  }
  static const char* kHex = "0123456789abcdef";
  token.clear();
  for (unsigned char b : bytes) {
    token += kHex[b >> 4];
    token += kHex[b & 15];
  }
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::io_error("cannot create " + file + ": " + std::strerror(errno));
  ::fchmod(fd, 0600);
  const std::string line = token + "\n";
  const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ::close(fd);
  if (!ok) return Status::io_error("cannot write " + file);
  return token;
}

bool same_token(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

Json success(Json fields = Json::object()) {
  fields["status"] = "success";
  return fields;
}

Json error_reply(const std::string& message) {
  return Json{{"status", "error"}, {"error", message}};
}

void send(httplib::Response& res, int http_status, const Json& body) {
  res.status = http_status;
  res.set_content(body.dump(-1, ' ', false, Json::error_handler_t::replace),
                  "application/json; charset=UTF-8");
}

using Handler = std::function<Result<Json>(const RequestParams&)>;

struct Route {
  std::string method;  // "GET" or "POST"
  Handler handler;
};

class HttpServer : public Server {
 public:
  HttpServer(ServerOptions options, std::string token, std::unique_ptr<MessageLog> log,
             std::unique_ptr<httplib::Server> http)
      : options_(std::move(options)),
        token_(std::move(token)),
        log_(std::move(log)),
        http_(std::move(http)) {}

  ~HttpServer() override {
    if (manager_ != nullptr) stop();
    if (lock_fd_ >= 0) ::close(lock_fd_);
  }

  MessageLog* log() { return log_.get(); }

  /// Takes the state dir's lock, so that two servers never supervise the same tasks.
  Status lock_state_dir() {
    const std::string file = path::join(options_.state_dir, "server.lock");
    lock_fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd_ < 0) return Status::io_error("cannot open " + file + ": " + std::strerror(errno));
    if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
      char buf[32] = {0};
      const ssize_t n = ::pread(lock_fd_, buf, sizeof buf - 1, 0);
      const std::string pid = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "?";
      return Status::failed_precondition("state dir " + options_.state_dir +
                                         " is in use by another DLNest server (pid " +
                                         pid.substr(0, pid.find('\n')) + ")");
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(lock_fd_, 0) != 0 || ::pwrite(lock_fd_, pid.data(), pid.size(), 0) < 0) {
      return Status::io_error("cannot write " + file);
    }
    return Status::ok();
  }

  /// Binds the port (nothing is served yet).
  Status bind() {
    install_routes();
    http_->set_pre_routing_handler(
        [this](const httplib::Request& req, httplib::Response& res) { return guard(req, res); });
    http_->set_payload_max_length(kMaxBody);
    // A reply is written as two send() calls (headers, then body). With Nagle's algorithm the
    // body waits for the ACK of the headers, which a keep-alive client delays by 40 ms.
    http_->set_tcp_nodelay(true);
    set_connection_limits();
    http_->set_socket_options([this](int sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
      ::fcntl(sock, F_SETFD, FD_CLOEXEC);
      listen_fd_ = sock;  // the last socket tried is the one bound
    });
    http_->set_error_handler([](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;
      std::string message;
      switch (res.status) {
        case 404:
          message = "unknown path " + req.path + " (see docs/api.md)";
          break;
        case 413:
          message = too_large_message(req);
          break;
        case 414:
          message = "request URI too long";
          break;
        default:
          message = "bad request (HTTP " + std::to_string(res.status) + ")";
      }
      send(res, res.status, error_reply(message));
    });
    http_->set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
          std::string what = "unknown exception";
          try {
            if (ep) std::rethrow_exception(ep);
          } catch (const std::exception& e) {
            what = e.what();
          } catch (...) {
          }
          send(res, 200, error_reply("internal error: " + what));
        });
    if (options_.port == 0) {
      port_ = http_->bind_to_any_port(options_.host);
      if (port_ <= 0) return bind_error();
    } else {
      if (!http_->bind_to_port(options_.host, options_.port)) return bind_error();
      port_ = options_.port;
    }
    return raise_backlog();
  }

  /// Serves the API over `manager` from a background thread.
  void serve(std::unique_ptr<TaskManager> manager) {
    manager_ = std::move(manager);
    listener_ = std::thread([this] { http_->listen_after_bind(); });
    while (!http_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    log_->add("[Server] ", "listening on " + url() + " (state in " + options_.state_dir + ")");
    if (options_.insecure && !tls() && !is_loopback_address(options_.host)) {
      log_->add("[Warning] ",
                "--insecure: no TLS; the token and every reply cross the network "
                "in clear text");
    }
  }

  int port() const override { return port_; }
  std::string url() const override {
    const bool v6 = options_.host.find(':') != std::string::npos;
    return std::string(tls() ? "https://" : "http://") +
           (v6 ? "[" + options_.host + "]" : options_.host) + ":" +
           std::to_string(port_);
  }
  std::string token() const override { return token_; }

  void stop() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return;
      stopped_ = true;
    }
    http_->stop();
    if (listener_.joinable()) listener_.join();
    manager_->stop();
    if (lock_fd_ >= 0) {
      ::close(lock_fd_);  // the next server may take over the tasks
      lock_fd_ = -1;
    }
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    cv_.notify_all();
  }

  void wait() override {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return done_; });
  }

 private:
  /// Runs before any handler: refuses what a web page of another site would send
  /// (docs/security.md).
  httplib::Server::HandlerResponse guard(const httplib::Request& req, httplib::Response& res) {
    ServerIdentity identity{options_.host, port_, options_.allowed_hosts, tls()};
    GuardHeaders headers;
    if (req.has_header("Host")) headers.host = req.get_header_value("Host");
    if (req.has_header("Origin")) headers.origin = req.get_header_value("Origin");
    if (req.has_header("Sec-Fetch-Site")) {
      headers.sec_fetch_site = req.get_header_value("Sec-Fetch-Site");
    }
    Status s = check_request(identity, headers);
    if (s.is_ok()) return httplib::Server::HandlerResponse::Unhandled;
    send(res, 403, error_reply(s.message()));
    return httplib::Server::HandlerResponse::Handled;
  }

  bool tls() const { return options_.tls.enabled(); }

  static std::string too_large_message(const httplib::Request& req) {
    if (req.get_header_value("Content-Type").rfind("application/x-www-form-urlencoded", 0) == 0) {
      return "form body (application/x-www-form-urlencoded) larger than " +
             std::to_string(kMaxFormBody / 1024) +
             " KiB; send larger parameters as JSON (application/json) or multipart/form-data, "
             "up to " +
             std::to_string(kMaxBody >> 20) + " MiB";
    }
    return "request body larger than " + std::to_string(kMaxBody >> 20) + " MiB";
  }

  void set_connection_limits() {
    http_->new_task_queue = [] { return new httplib::ThreadPool(kHttpThreads); };
    http_->set_read_timeout(kReadTimeoutS, 0);
    http_->set_write_timeout(kWriteTimeoutS, 0);
    http_->set_keep_alive_timeout(kKeepAliveTimeoutS);
    http_->set_keep_alive_max_count(kKeepAliveMaxRequests);
  }

  /// cpp-httplib has listened with its own backlog; listening again on the bound socket sets ours.
  Status raise_backlog() {
    if (::listen(listen_fd_, kListenBacklog) == 0) return Status::ok();
    return Status::io_error("cannot listen on " + url() + ": " + std::strerror(errno));
  }

  Status bind_error() {
    const int err = errno;
    std::string why = err == EADDRINUSE
                          ? "address already in use (is another DLNest server running?)"
                      : err != 0 ? std::strerror(err)
                                 : "cannot bind";
    return Status::io_error("cannot listen on " + options_.host + ":" +
                            std::to_string(options_.port) + ": " + why);
  }

  void route(const std::string& path, const std::string& method, Handler handler) {
    routes_[path] = Route{method, std::move(handler)};
    auto h = [this, path](const httplib::Request& req, httplib::Response& res) {
      dispatch(path, req, res);
    };
    http_->Get(path, h);
    http_->Post(path, h);
    http_->Put(path, h);
    http_->Delete(path, h);
    http_->Patch(path, h);
    http_->Options(path, h);
  }

  /// Whether the request carries the server's token.
  bool has_token(const httplib::Request& req) const {
    std::string given = req.get_header_value("X-DLNest-Token");
    const std::string auth = req.get_header_value("Authorization");
    if (given.empty() && auth.rfind("Bearer ", 0) == 0) given = auth.substr(7);
    if (given.empty()) given = token_cookie(req);  // the dashboard's, beyond loopback
    return same_token(given, token_);
  }

  /// Answers 401/403 and returns false unless the request may act as the server's owner: it
  /// carries the token, or (on loopback) it comes from a process of the owner's user.
  bool authorize(const httplib::Request& req, httplib::Response& res) {
    if (has_token(req)) return true;
    const std::string how = "send the token in " + path::join(options_.state_dir, "token") +
                            " as 'Authorization: Bearer <token>' (dlnest: --token or "
                            "DLNEST_TOKEN)";
    if (!is_loopback_address(options_.host)) {
      send(res, 401, error_reply("missing or wrong token: " + how));
      return false;
    }
    const std::optional<uid_t> peer = loopback_peer_uid(req.remote_addr, req.remote_port, port_);
    if (peer && *peer == ::getuid()) return true;
    send(res, 403,
         error_reply("this server serves its owner (uid " + std::to_string(::getuid()) +
                     ") only, and the request came from " +
                     (peer ? "uid " + std::to_string(*peer) : std::string("an unknown user")) +
                     ": " + how));
    return false;
  }

  void dispatch(const std::string& path, const httplib::Request& req, httplib::Response& res) {
    if (!authorize(req, res)) return;
    const Route& route = routes_.at(path);
    if (req.method == "OPTIONS") {  // no CORS headers: other sites may not use the API
      res.status = 204;
      res.set_header("Allow", route.method + ", OPTIONS");
      return;
    }
    if (req.method != route.method) {
      send(res, 405,
           error_reply("method " + req.method + " not allowed on " + path + "; use " +
                       route.method));
      return;
    }
    std::multimap<std::string, std::string> values(req.params.begin(), req.params.end());
    for (const auto& [name, file] : req.files) values.emplace(name, file.content);
    RequestParams params(std::move(values));
    const std::string type = req.get_header_value("Content-Type");
    if (type.rfind("application/json", 0) == 0 && !req.body.empty()) {
      Status s = params.add_json_body(req.body);
      if (!s.is_ok()) {
        send(res, 200, error_reply(s.message()));
        return;
      }
    }
    Result<Json> reply = route.handler(params);
    send(res, 200,
         reply.is_ok() ? success(std::move(reply).value()) : error_reply(reply.status().message()));
  }

  static Result<std::string> task_id(const RequestParams& p) {
    DLNEST_ASSIGN_OR_RETURN(std::string id, p.required("task_ID"));
    if (id.empty() || id.size() > 64) return Status::invalid_argument("task_ID: not a task id");
    return id;
  }

  Result<TaskRecord> known_task(const RequestParams& p) {
    DLNEST_ASSIGN_OR_RETURN(std::string id, task_id(p));
    auto task = manager_->get(id);
    if (!task.is_ok() && task.status().code() == Status::Code::kNotFound) {
      return Status::not_found("unknown task " + id);
    }
    return task;
  }

  Result<TaskRecord> analyze_task(const RequestParams& p) {
    DLNEST_ASSIGN_OR_RETURN(TaskRecord task, known_task(p));
    if (task.type != TaskType::kAnalyze) {
      return Status::invalid_argument("task " + task.id +
                                      " is a training task, not an analysis task");
    }
    return task;
  }

  static Result<int> small_int(const RequestParams& p, const std::string& name, int64_t fallback) {
    DLNEST_ASSIGN_OR_RETURN(int64_t v, p.get_int(name, fallback));
    if (v < INT_MIN || v > INT_MAX) return Status::invalid_argument(name + ": out of range");
    return static_cast<int>(v);
  }

  /// A task info entry: a building or running training also carries its progress.json (only
  /// those, so that a history of thousands of tasks reads no file).
  static Json task_entry(const TaskRecord& t) {
    Json entry = task_to_json(t);
    if (t.type == TaskType::kTrain &&
        (t.state == TaskState::kBuilding || t.state == TaskState::kRunning)) {
      entry["progress"] = task_info_progress(t.package_dir, t.submit_time);
    }
    return entry;
  }

  static Json task_list(const std::vector<TaskRecord>& tasks) {
    Json info = Json::array();
    for (const TaskRecord& t : tasks) info.push_back(task_entry(t));
    return info;
  }

  /// memory_consumption: MB, -1 (the default, also when absent) or auto.
  static Result<MemoryRequest> memory_request(const RequestParams& p) {
    if (!p.has("memory_consumption")) return MemoryRequest{};
    return parse_memory_request(p.get("memory_consumption"));
  }

  /// The parameters /run_train and /continue_train share.
  static Result<TrainResources> train_resources(const RequestParams& p) {
    TrainResources r;
    DLNEST_ASSIGN_OR_RETURN(MemoryRequest memory, memory_request(p));
    r.memory_mb = memory.mb;
    r.memory_auto = memory.automatic;
    DLNEST_ASSIGN_OR_RETURN(r.cpu, p.get_bool("CPU"));
    DLNEST_ASSIGN_OR_RETURN(r.ddp, p.get_bool("DDP"));
    DLNEST_ASSIGN_OR_RETURN(r.nproc, small_int(p, "nproc", 0));
    DLNEST_ASSIGN_OR_RETURN(r.multi_gpu, p.get_bool("multi_GPU"));
    DLNEST_ASSIGN_OR_RETURN(r.max_restarts, small_int(p, "max_restarts", 0));
    return r;
  }

  static Json submitted(const TaskRecord& task) {
    return Json{{"task_ID", task.id}, {"record_path", task.package_dir}};
  }

  Result<Json> run_train(const RequestParams& p) {
    TrainSubmit s;
    DLNEST_ASSIGN_OR_RETURN(s.config_path, p.required("config_path"));
    s.freq_path = p.get("freq_path");
    s.description = p.get("description");
    DLNEST_ASSIGN_OR_RETURN(s.no_save, p.get_bool("no_save"));
    DLNEST_ASSIGN_OR_RETURN(s.use_description, p.get_bool("use_description"));
    DLNEST_ASSIGN_OR_RETURN(s.resources, train_resources(p));
    DLNEST_ASSIGN_OR_RETURN(TaskRecord task, manager_->submit_train(s));
    return submitted(task);
  }

  Result<Json> continue_train(const RequestParams& p) {
    ContinueSubmit s;
    DLNEST_ASSIGN_OR_RETURN(s.record_path, p.required("record_path"));
    DLNEST_ASSIGN_OR_RETURN(s.checkpoint_id, p.get_int("checkpoint_ID", kLatestCheckpoint));
    s.description = p.get("description");
    s.args_changes.freq_path = p.get("freq_path");
    s.args_changes.settings = p.get_all("set");
    DLNEST_ASSIGN_OR_RETURN(s.resources, train_resources(p));
    DLNEST_ASSIGN_OR_RETURN(TaskRecord task, manager_->submit_continue(s));
    return submitted(task);
  }

  Result<Json> analyze(const RequestParams& p) {
    AnalyzeSubmit s;
    DLNEST_ASSIGN_OR_RETURN(s.record_path, p.required("record_path"));
    s.script_path = p.get("script_path");
    DLNEST_ASSIGN_OR_RETURN(s.checkpoint_id, p.get_int("checkpoint_ID", kLatestCheckpoint));
    DLNEST_ASSIGN_OR_RETURN(MemoryRequest memory, memory_request(p));
    s.memory_mb = memory.mb;
    s.memory_auto = memory.automatic;
    DLNEST_ASSIGN_OR_RETURN(s.cpu, p.get_bool("CPU"));
    DLNEST_ASSIGN_OR_RETURN(TaskRecord task, manager_->submit_analyze(s));
    return submitted(task);
  }

  Result<Json> run_exp(const RequestParams& p) {
    DLNEST_ASSIGN_OR_RETURN(std::string command, p.required("command"));
    DLNEST_ASSIGN_OR_RETURN(TaskRecord task, analyze_task(p));
    DLNEST_RETURN_IF_ERROR(manager_->run_exp(task.id, command));
    return Json::object();
  }

  Result<Json> output_of(const RequestParams& p, const TaskRecord& task, bool styled) {
    DLNEST_ASSIGN_OR_RETURN(int64_t max_bytes, p.get_int("max_bytes", kDefaultOutputBytes));
    if (max_bytes <= 0 || max_bytes > kMaxOutputBytes) {
      return Status::invalid_argument("max_bytes must be between 1 and " +
                                      std::to_string(kMaxOutputBytes));
    }
    std::optional<int64_t> offset;
    if (p.has("offset")) {
      DLNEST_ASSIGN_OR_RETURN(int64_t o, p.get_int("offset", 0));
      if (o < 0) return Status::invalid_argument("offset must be >= 0");
      offset = o;
    }
    DLNEST_ASSIGN_OR_RETURN(OutputChunk chunk, read_output_file(manager_->output_file(task), offset,
                                                                static_cast<size_t>(max_bytes)));
    LogSlice slice;
    slice.offset = chunk.offset;
    slice.next_offset = chunk.offset + static_cast<int64_t>(chunk.text.size());
    slice.text = chunk.text;
    slice.styled = styled_lines(chunk.text, kAnalyzerPrefixStyle, MessageLog::kPlainStyle);
    Json reply = log_slice_to_json(slice, styled);
    reply["size"] = chunk.size;
    return reply;
  }

  /// The names of the `plugins` parameter: repeated, or several in one value separated by
  /// spaces; the original server's default "[]" names none.
  static std::vector<std::string> plugin_names(const RequestParams& p) {
    std::vector<std::string> names = split_plugin_names(p.get_all("plugins"));
    names.erase(std::remove(names.begin(), names.end(), "[]"), names.end());
    return names;
  }

  /// /add_plugins (and /new_proj's plugins): lists `names` in the project's config.
  Result<Json> add_project_plugins(const std::string& target, const std::vector<std::string>& names,
                                   bool full) {
    DLNEST_ASSIGN_OR_RETURN(AddedPlugins added, add_plugins(target, names, full));
    if (!added.added.empty()) {
      std::string list;
      for (const std::string& name : added.added) list += (list.empty() ? "" : " ") + name;
      log_->add("[Add plugins] ", "added " + list + " in " + added.config_file, "#ff0f9f bold");
    }
    return Json{{"config_file", added.config_file},
                {"added", added.added},
                {"already", added.already},
                {"not_builtin", added.user}};
  }

  void install_routes() {
    route("/run_train", "POST", [this](const RequestParams& p) { return run_train(p); });
    route("/continue_train", "POST", [this](const RequestParams& p) { return continue_train(p); });
    route("/analyze", "POST", [this](const RequestParams& p) { return analyze(p); });
    route("/run_exp", "POST", [this](const RequestParams& p) { return run_exp(p); });
    route("/del_task", "POST", [this](const RequestParams& p) -> Result<Json> {
      DLNEST_ASSIGN_OR_RETURN(TaskRecord task, known_task(p));
      DLNEST_RETURN_IF_ERROR(manager_->delete_task(task.id));
      return Json::object();
    });
    route("/new_proj", "POST", [this](const RequestParams& p) -> Result<Json> {
      DLNEST_ASSIGN_OR_RETURN(std::string target, p.required("target_dir"));
      DLNEST_ASSIGN_OR_RETURN(bool mnist, p.get_bool("MNIST"));
      if (target.empty()) return Status::invalid_argument("target_dir is empty");
      DLNEST_RETURN_IF_ERROR(create_project(target, mnist));
      log_->add("[New project] ",
                "created " + std::string(mnist ? "an MNIST" : "a") + " project in " +
                    path::absolute(target),
                "#ff0f9f bold");
      const std::vector<std::string> plugins = plugin_names(p);
      if (plugins.empty()) return Json::object();
      return add_project_plugins(target, plugins, false);
    });
    route("/add_plugins", "POST", [this](const RequestParams& p) -> Result<Json> {
      DLNEST_ASSIGN_OR_RETURN(std::string target, p.required("target_dir"));
      DLNEST_ASSIGN_OR_RETURN(bool full, p.get_bool("full"));
      if (target.empty()) return Status::invalid_argument("target_dir is empty");
      return add_project_plugins(target, plugin_names(p), full);
    });
    route("/change_delay", "POST", [this](const RequestParams& p) -> Result<Json> {
      DLNEST_ASSIGN_OR_RETURN(int64_t delay, p.required_int("new_delay"));
      if (delay <= 0 || delay > 86400) {
        return Status::invalid_argument("new_delay must be between 1 and 86400 seconds");
      }
      DLNEST_RETURN_IF_ERROR(manager_->set_delay(static_cast<double>(delay)));
      return Json::object();
    });
    route("/change_devices", "POST", [this](const RequestParams& p) -> Result<Json> {
      DLNEST_ASSIGN_OR_RETURN(std::vector<int64_t> ids, p.get_int_list("new_devices_IDs"));
      DLNEST_RETURN_IF_ERROR(manager_->set_allowed_devices(ids));
      return Json::object();
    });
    route("/change_max_task_per_device", "POST", [this](const RequestParams& p) -> Result<Json> {
      DLNEST_ASSIGN_OR_RETURN(int64_t n, p.required_int("new_max"));
      DLNEST_RETURN_IF_ERROR(manager_->set_max_task_per_device(n));
      return Json::object();
    });
    route("/clear", "POST", [this](const RequestParams&) -> Result<Json> {
      log_->clear();
      return Json::object();
    });
    route("/get_task_info", "GET", [this](const RequestParams&) -> Result<Json> {
      DLNEST_ASSIGN_OR_RETURN(std::vector<TaskRecord> tasks, manager_->active());
      return Json{{"info", task_list(tasks)}};
    });
    route("/get_devices_info", "GET", [this](const RequestParams&) -> Result<Json> {
      return Json{{"info", manager_->devices_info()}};
    });
    route("/get_DLNest_output", "GET", [this](const RequestParams& p) -> Result<Json> {
      DLNEST_ASSIGN_OR_RETURN(bool styled, p.get_bool("styled"));
      DLNEST_ASSIGN_OR_RETURN(int64_t offset, p.get_int("offset", 0));
      if (offset < 0) return Status::invalid_argument("offset must be >= 0");
      return log_slice_to_json(log_->read(offset), styled);
    });
    route("/get_analyze_output", "GET", [this](const RequestParams& p) -> Result<Json> {
      DLNEST_ASSIGN_OR_RETURN(TaskRecord task, analyze_task(p));
      DLNEST_ASSIGN_OR_RETURN(bool styled, p.get_bool("styled"));
      // Without an offset, the latest output (the original clients poll that way and show it).
      return output_of(p, task, styled);
    });
    route("/get_task", "GET", [this](const RequestParams& p) -> Result<Json> {
      DLNEST_ASSIGN_OR_RETURN(TaskRecord task, known_task(p));
      return Json{{"info", task_entry(task)}};
    });
    route("/get_task_history", "GET", [this](const RequestParams& p) -> Result<Json> {
      DLNEST_ASSIGN_OR_RETURN(int64_t limit, p.get_int("limit", 100));
      if (limit <= 0 || limit > 100000) {
        return Status::invalid_argument("limit must be between 1 and 100000");
      }
      DLNEST_ASSIGN_OR_RETURN(std::vector<TaskRecord> tasks,
                              manager_->history(static_cast<size_t>(limit)));
      return Json{{"info", task_list(tasks)}};
    });
    route("/get_task_output", "GET", [this](const RequestParams& p) -> Result<Json> {
      DLNEST_ASSIGN_OR_RETURN(TaskRecord task, known_task(p));
      DLNEST_ASSIGN_OR_RETURN(bool styled, p.get_bool("styled"));
      return output_of(p, task, styled);
    });
    route("/clear_history", "POST", [this](const RequestParams&) -> Result<Json> {
      DLNEST_ASSIGN_OR_RETURN(int64_t removed, manager_->clear_history());
      return Json{{"removed", removed}};
    });
    route("/get_server_info", "GET", [this](const RequestParams&) -> Result<Json> {
      Json info = manager_->server_info();
      info["version"] = DLNEST_VERSION;
      info["url"] = url();
      return info;
    });
    route("/get_task_metrics", "GET", [this](const RequestParams& p) -> Result<Json> {
      DLNEST_ASSIGN_OR_RETURN(TaskRecord task, known_task(p));
      return task_metrics_reply(task.package_dir, p);
    });
    route("/get_task_progress", "GET", [this](const RequestParams& p) -> Result<Json> {
      DLNEST_ASSIGN_OR_RETURN(TaskRecord task, known_task(p));
      return task_progress_reply(task.package_dir);
    });
    install_dashboard(*http_, {[this](const httplib::Request& req, httplib::Response& res) {
                                 return authorize(req, res);
                               },
                               [this](const std::string& t) { return same_token(t, token_); },
                               tls()});
  }

  ServerOptions options_;
  std::string token_;
  std::unique_ptr<MessageLog> log_;
  std::unique_ptr<TaskManager> manager_;
  std::unique_ptr<httplib::Server> http_;  // an SSLServer with TLS
  std::map<std::string, Route> routes_;
  std::thread listener_;
  int port_ = 0;
  int listen_fd_ = -1;  // owned by http_
  int lock_fd_ = -1;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
  bool done_ = false;
};

}  // namespace

Result<std::unique_ptr<Server>> Server::start(const ServerOptions& given) {
  ServerOptions options = given;
  if (options.state_dir.empty()) options.state_dir = default_state_dir();
  options.state_dir = path::absolute(options.state_dir);
  if (options.worker_path.empty()) options.worker_path = path::join(own_dir(), "dlnest-worker");
  if (options.port < 0 || options.port > 65535) {
    return Status::invalid_argument("--port must be between 0 and 65535");
  }
  auto log = std::make_unique<MessageLog>();
  if (!options.quiet) {
    log->set_echo([](const std::string& text) { std::fprintf(stderr, "%s", text.c_str()); });
  }
  DLNEST_ASSIGN_OR_RETURN(
      DeviceBackend devices,
      make_device_backend(ProbeSelection::from_environment(options.simulated_gpus),
                          std::make_unique<Supervisor>()));
  std::string token;
  DLNEST_RETURN_IF_ERROR(Env::default_env()->create_dirs(options.state_dir));
  if (!is_loopback_address(options.host) && !options.tls.enabled() && !options.insecure) {
    return Status::failed_precondition(
        "--host " + options.host +
        " is not a loopback address, and this server has no TLS: "
        "its token and every reply would cross the network in clear text. Give it "
        "--tls-cert and --tls-key, or pass --insecure to accept that (docs/security.md), or "
        "use 127.0.0.1 and an SSH tunnel");
  }
  DLNEST_ASSIGN_OR_RETURN(std::unique_ptr<httplib::Server> http, make_http_server(options.tls));
  // Also on loopback: other users' clients may act as the owner only with it.
  DLNEST_ASSIGN_OR_RETURN(token, load_or_create_token(options.state_dir));
  // Lock the state and bind before touching the tasks, so that a second server fails cleanly
  // instead of adopting the first one's tasks.
  auto server = std::make_unique<HttpServer>(options, token, std::move(log), std::move(http));
  DLNEST_RETURN_IF_ERROR(server->lock_state_dir());
  DLNEST_RETURN_IF_ERROR(server->bind());
  TaskManagerOptions manager_options;
  manager_options.state_dir = options.state_dir;
  manager_options.launch.worker_path = options.worker_path;
  // The build stage runs `dlnest build-package`, installed next to the worker.
  manager_options.launch.dlnest_path = path::join(path::parent(options.worker_path), "dlnest");
  manager_options.launch.dlnest_cmake_dir = default_dlnest_cmake_dir();
  manager_options.probe = std::move(devices.probe);
  manager_options.runner = std::move(devices.runner);
  manager_options.ledger = std::move(devices.ledger);
  if (!devices.ledger_status.is_ok()) {
    server->log()->add("[Warning] ", devices.ledger_status.message() +
                                         "; tasks are placed without the other servers' "
                                         "reservations");
  }
  manager_options.delay_s = options.delay_s;
  manager_options.memory_sample_s = options.memory_sample_s;
  manager_options.max_task_per_device = options.max_task_per_device;
  manager_options.end_tasks_on_exit = options.end_tasks_on_exit;
  DLNEST_ASSIGN_OR_RETURN(std::unique_ptr<TaskManager> manager,
                          TaskManager::open(std::move(manager_options), server->log()));
  server->serve(std::move(manager));
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace dlnest

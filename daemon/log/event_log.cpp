#include "daemon/log/event_log.h"

#include "daemon/log/access_record.h"
#include "daemon/log/json_writer.h"

namespace portcullis::log {

std::string_view toString(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

std::string formatEvent(SystemTime now, Level level, std::string_view event,
                        std::initializer_list<EventField> fields) {
  JsonObject obj;
  obj.field("ts", formatTimestamp(now)).field("level", toString(level)).field("event", event);
  for (const auto& f : fields) {
    std::visit([&](const auto& v) { obj.field(f.name, v); }, f.value);
  }
  return std::move(obj).finish();
}

void EventLog::emit(Level level, std::string_view event, std::initializer_list<EventField> fields) {
  if (level < minLevel_) return;
  try {
    sink_.submit(formatEvent(std::chrono::system_clock::now(), level, event, fields));
  } catch (...) {  // allocation failure while formatting: drop the event
  }
}

uint32_t RefusalTracker::note(std::string_view client, SystemTime now) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(std::string(client));
  if (it == entries_.end()) {
    if (entries_.size() >= maxClients_) evictOld(now);
    if (entries_.size() >= maxClients_) return 0;  // all windows live: stay bounded
    it = entries_.emplace(std::string(client), Entry{now, 0, false}).first;
  }
  Entry& e = it->second;
  if (now - e.windowStart >= window_) e = Entry{now, 0, false};
  ++e.count;
  if (e.count >= threshold_ && !e.reported) {
    e.reported = true;
    return e.count;
  }
  return 0;
}

void RefusalTracker::evictOld(SystemTime now) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (now - it->second.windowStart >= window_) {
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace portcullis::log

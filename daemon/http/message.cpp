#include "daemon/http/message.h"

namespace portcullis::http {

Method methodFromToken(std::string_view token) {
  // RFC 9110 §9.1: method tokens are case-sensitive.
  switch (token.size()) {
    case 3:
      if (token == "GET") return Method::kGet;
      if (token == "PUT") return Method::kPut;
      break;
    case 4:
      if (token == "HEAD") return Method::kHead;
      if (token == "POST") return Method::kPost;
      break;
    case 5:
      if (token == "TRACE") return Method::kTrace;
      if (token == "PATCH") return Method::kPatch;
      break;
    case 6:
      if (token == "DELETE") return Method::kDelete;
      break;
    case 7:
      if (token == "CONNECT") return Method::kConnect;
      if (token == "OPTIONS") return Method::kOptions;
      break;
    default:
      break;
  }
  return Method::kOther;
}

}  // namespace portcullis::http

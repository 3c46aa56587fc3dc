// SPDX-License-Identifier: BSD-2-Clause
#include "auth.h"

#include <grpcpp/grpcpp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "controller.h"

namespace sw::controller {

struct Authenticator::Store {
  X509_STORE* store = nullptr;
  ~Store() {
    if (store) X509_STORE_free(store);
  }
};

Authenticator::~Authenticator() = default;

std::unique_ptr<Authenticator> Authenticator::Plain() {
  return std::unique_ptr<Authenticator>(new Authenticator());
}

absl::StatusOr<std::unique_ptr<Authenticator>> Authenticator::WithCa(const std::string& ca_pem) {
  auto a = std::unique_ptr<Authenticator>(new Authenticator());
  a->store_ = std::make_unique<Store>();
  a->store_->store = X509_STORE_new();
  BIO* bio = BIO_new_mem_buf(ca_pem.data(), static_cast<int>(ca_pem.size()));
  int added = 0;
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    if (X509_STORE_add_cert(a->store_->store, cert) == 1) ++added;
    X509_free(cert);
  }
  BIO_free(bio);
  if (added == 0) return absl::InvalidArgumentError("the CA bundle holds no certificate");
  return a;
}

namespace {

std::string EntryOf(X509_NAME* name, int nid) {
  const int i = X509_NAME_get_index_by_NID(name, nid, -1);
  if (i < 0) return "";
  ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
  unsigned char* utf8 = nullptr;
  const int n = ASN1_STRING_to_UTF8(&utf8, s);
  if (n < 0) return "";
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
  OPENSSL_free(utf8);
  return out;
}

}  // namespace

absl::StatusOr<Peer> Authenticator::FromCertificate(const std::string& pem) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = verified_.find(pem);
    if (it != verified_.end()) return it->second;
  }
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!cert) return absl::UnauthenticatedError("the client certificate does not parse");
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store_->store, cert, nullptr);
  const bool ok = X509_verify_cert(ctx) == 1;
  const int err = X509_STORE_CTX_get_error(ctx);
  X509_STORE_CTX_free(ctx);
  Peer p;
  std::string role;
  if (ok) {
    X509_NAME* subject = X509_get_subject_name(cert);
    p.name = EntryOf(subject, NID_commonName);
    role = EntryOf(subject, NID_organizationalUnitName);
  }
  X509_free(cert);
  if (!ok) {
    return absl::UnauthenticatedError(absl::StrCat(
        "the client certificate is not signed by this controller's CA (",
        X509_verify_cert_error_string(err), ")"));
  }
  if (!ValidName(p.name)) {
    return absl::UnauthenticatedError(
        "the client certificate's common name is not a valid name (1..64 of letters, digits, "
        "'.', '_', '-')");
  }
  if (role == "agent") {
    p.role = Role::kAgent;
  } else if (role == "operator") {
    p.role = Role::kOperator;
  } else {
    return absl::UnauthenticatedError(absl::StrCat(
        "the client certificate's organisational unit is '", role,
        "'; it must be 'agent' or 'operator'"));
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (verified_.size() >= 4096) verified_.clear();
  verified_[pem] = p;
  return p;
}

absl::StatusOr<Peer> Authenticator::Identify(const grpc::ServerContext* ctx) {
  if (!store_) {
    const auto& md = ctx->client_metadata();
    auto it = md.find("sw-name");
    if (it == md.end()) return absl::UnauthenticatedError("no caller name (sw-name metadata)");
    Peer p;
    p.name.assign(it->second.data(), it->second.size());
    if (!ValidName(p.name)) {
      return absl::UnauthenticatedError("bad caller name: 1..64 of letters, digits, '.', '_', '-'");
    }
    return p;
  }
  auto auth = ctx->auth_context();
  if (!auth) return absl::UnauthenticatedError("no TLS session");
  const auto pems = auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (pems.empty()) return absl::UnauthenticatedError("no client certificate");
  return FromCertificate(std::string(pems.front().data(), pems.front().size()));
}

}  // namespace sw::controller

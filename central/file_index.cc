#include "central/file_index.h"
#include "common/mutex.h"

#include <unordered_set>

namespace p2pshare::central {
namespace {

Status CheckUniqueNames(const std::vector<FileEntry>& files, const char* field) {
  std::unordered_set<std::string_view> seen;
  for (size_t i = 0; i < files.size(); ++i) {
    if (!seen.insert(files[i].name).second) {
      return InvalidArgument("field '" + std::string(field) + "[" + std::to_string(i) +
                             "].name': '" + files[i].name + "' is listed twice");
    }
  }
  return Status::Ok();
}

}  // namespace

Status FileIndex::Load(const std::vector<PeerRecord>& peers) {
  MutexLock lock(write_mu_);
  for (const auto& p : peers) {
    ASSIGN_OR_RETURN(auto files, store_->ListFiles(p.username));
    index_.Replace(p.username, files);
  }
  return Status::Ok();
}

Result<int64_t> FileIndex::Replace(const std::string& username,
                                   const std::vector<FileEntry>& files) {
  RETURN_IF_ERROR(CheckUniqueNames(files, "files"));
  MutexLock lock(write_mu_);
  RETURN_IF_ERROR(CheckLimits(username, static_cast<int64_t>(files.size())));
  ASSIGN_OR_RETURN(int64_t count, store_->ReplaceIndex(username, files));
  if (!follow_) index_.Replace(username, files);
  return count;
}

Result<int64_t> FileIndex::Patch(const std::string& username, const std::vector<FileEntry>& added,
                                 const std::vector<std::string>& removed) {
  RETURN_IF_ERROR(CheckUniqueNames(added, "added"));
  MutexLock lock(write_mu_);
  RETURN_IF_ERROR(CheckLimits(username, index_.CountAfterPatch(username, added, removed)));
  ASSIGN_OR_RETURN(int64_t count, store_->PatchIndex(username, added, removed));
  if (!follow_) index_.Patch(username, added, removed);
  return count;
}

Status FileIndex::CheckLimits(const std::string& user, int64_t after) const {
  if (max_per_peer_ > 0 && after > max_per_peer_) {
    return ResourceExhausted("a peer may list at most " + std::to_string(max_per_peer_) +
                                 " files; this would make " + std::to_string(after),
                             "too_many_files");
  }
  if (max_total_ > 0) {
    int64_t total = index_.held_files() - index_.FilesOf(user) + after;
    if (after > index_.FilesOf(user) && total > max_total_) {
      return ResourceExhausted("the index is full (" + std::to_string(max_total_) + " files)",
                               "too_many_files");
    }
  }
  return Status::Ok();
}

Result<std::optional<PeerRecord>> FileIndex::RemovePeer(const std::string& username,
                                                        SessionState why, int64_t now_unix) {
  MutexLock lock(write_mu_);
  ASSIGN_OR_RETURN(auto removed, store_->RemovePeer(username, why, now_unix));
  if (!follow_) index_.RemoveUser(username);
  return removed;
}

void FileIndex::ApplyReplace(const std::string& username, const std::vector<FileEntry>& files) {
  MutexLock lock(write_mu_);
  index_.Replace(username, files);
}

void FileIndex::ApplyPatch(const std::string& username, const std::vector<FileEntry>& added,
                           const std::vector<std::string>& removed) {
  MutexLock lock(write_mu_);
  index_.Patch(username, added, removed);
}

void FileIndex::ApplyRemove(const std::string& username) {
  MutexLock lock(write_mu_);
  index_.RemoveUser(username);
}

}  // namespace p2pshare::central

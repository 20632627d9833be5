// The dashboard: one self-contained HTML page (inline CSS and script, no
// other origin), generated into the build from central/dashboard.html.
#pragma once

namespace p2pshare::central {

extern const char kDashboardHtml[];

}  // namespace p2pshare::central

// Boost.JSON built once here, header-only (Debian's libboost1.81-dev ships the headers; the
// compiled libboost-json package is not needed).
#include <boost/json/src.hpp>

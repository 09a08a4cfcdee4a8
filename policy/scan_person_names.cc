#include "policy/scan_person_names.h"

#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"

namespace pgmask::policy {
namespace {

constexpr std::string_view kGivenNames[] = {
    "aaron", "abdul", "abigail", "ada", "adam", "ahmed", "aisha", "alan", "albert", "alejandro", "alex",
    "alexander", "alexandra", "ali", "alice", "amanda", "amelia", "amir", "amy", "ana", "andrea", "andrew",
    "angela", "anna", "anne", "anthony", "antonio", "arjun", "ashley", "barbara", "ben", "benjamin",
    "betty", "brandon", "brian", "camila", "carl", "carlos", "carmen", "carol", "catherine", "charles",
    "charlotte", "chen", "chloe", "chris", "christian", "christina", "christine", "christopher", "claire",
    "daniel", "david", "deborah", "dennis", "diana", "diego", "dmitri", "donald", "donna", "dorothy",
    "edward", "elena", "elizabeth", "ella", "emily", "emma", "eric", "farid", "fatima", "francesco",
    "frank", "gabriel", "gary", "george", "giulia", "grace", "gregory", "hana", "hannah", "hans", "harry",
    "helen", "henry", "hiro", "hiroshi", "ibrahim", "ines", "isabella", "ivan", "jack", "jacob", "james",
    "jan", "jane", "jason", "javier", "jeffrey", "jennifer", "jessica", "john", "jonas", "jorge", "jose",
    "joseph", "joshua", "juan", "julia", "justin", "karen", "kathleen", "kemal", "kenji", "kevin",
    "kimberly", "laura", "lena", "leo", "liam", "linda", "lisa", "lucas", "lucia", "luis", "maria",
    "mark", "martha", "mary", "mateo", "matthew", "mei", "melissa", "michael", "michelle", "mohammed",
    "muhammad", "nancy", "nicholas", "noah", "nora", "olivia", "omar", "oscar", "pablo", "patricia",
    "paul", "pedro", "peter", "pierre", "priya", "quinn", "rachel", "rahul", "raj", "rebecca", "richard",
    "robert", "ronald", "rosa", "ryan", "sakura", "samuel", "sandra", "sarah", "scott", "sean", "sergei",
    "sharon", "sofia", "sophia", "stephanie", "stephen", "steven", "susan", "sven", "tara", "thomas",
    "timothy", "tyler", "valentina", "victoria", "wei", "william", "yuki", "yusuf", "zoe",
};

constexpr std::string_view kSurnames[] = {
    "abara", "adams", "ahmed", "ali", "allen", "anderson", "bailey", "baker", "becker", "berg", "bernard",
    "brown", "campbell", "carter", "chen", "clark", "collins", "costa", "cruz", "davies", "davis", "diaz",
    "dubois", "edwards", "eriksen", "evans", "fernandez", "ferrari", "fischer", "flores", "garcia",
    "gomez", "gonzalez", "green", "gupta", "haddad", "hall", "hansen", "harris", "hernandez", "hill",
    "hoffmann", "huang", "hughes", "ito", "jackson", "jensen", "johansson", "johnson", "jones", "khan",
    "kim", "king", "kowalski", "kumar", "larsen", "laurent", "lee", "lewis", "li", "lindqvist", "liu",
    "lopez", "martin", "martinez", "meyer", "miller", "mitchell", "moore", "moreau", "morris", "muller",
    "murphy", "nakamura", "nelson", "nguyen", "nielsen", "novak", "nowak", "okafor", "olsen", "ortiz",
    "papadopoulos", "park", "patel", "perez", "petrov", "phillips", "quist", "ramirez", "reyes",
    "richardson", "rivera", "roberts", "robinson", "rodriguez", "romano", "rossi", "russo", "sanchez",
    "santos", "sato", "schmidt", "schneider", "schulz", "scott", "shah", "silva", "singh", "smith",
    "suzuki", "takahashi", "tanaka", "taylor", "thomas", "thompson", "torres", "tran", "turner", "ueda",
    "varga", "walker", "wang", "watanabe", "weber", "white", "williams", "wilson", "wright", "wu", "yamamoto",
    "yang", "yilmaz", "young", "zhang", "zhao",
};

const absl::flat_hash_set<std::string_view>& Names() {
  static const auto* names = [] {
    auto* set = new absl::flat_hash_set<std::string_view>();
    for (std::string_view n : kGivenNames) set->insert(n);
    for (std::string_view n : kSurnames) set->insert(n);
    return set;
  }();
  return *names;
}

}  // namespace

bool IsCommonPersonName(std::string_view word) {
  if (word.size() < 2 || word.size() > 20) return false;
  std::string lower(word);
  for (char& c : lower) c = absl::ascii_tolower(static_cast<unsigned char>(c));
  return Names().contains(lower);
}

}  // namespace pgmask::policy

package main

// Vocabulary for the generator: Debian sections for list names, and the
// pieces package names and descriptions are made of. Text like this, not
// random bytes, is what the users store (and what Badger compresses).

var sections = []string{
	"admin", "cli-mono", "comm", "database", "debian-installer", "debug", "devel", "doc",
	"editors", "education", "electronics", "embedded", "fonts", "games", "gnome", "gnu-r",
	"gnustep", "golang", "graphics", "hamradio", "haskell", "httpd", "interpreters",
	"introspection", "java", "javascript", "kde", "kernel", "libdevel", "libs", "lisp",
	"localization", "mail", "math", "metapackages", "misc", "net", "news", "ocaml", "oldlibs",
	"otherosfs", "perl", "php", "python", "ruby", "rust", "science", "shells", "sound",
	"tasks", "tex", "text", "utils", "vcs", "video", "virtual", "web", "x11", "xfce", "zope",
	"contrib-libs", "contrib-utils", "non-free-firmware", "non-free-misc",
}

var prefixes = []string{"lib", "python3-", "golang-", "node-", "r-cran-", "ruby-", "lib", "fonts-"}

var syllables = []string{
	"ab", "ac", "al", "am", "an", "ar", "ba", "be", "bi", "bo", "ca", "ce", "ch", "co", "cu",
	"da", "de", "di", "do", "el", "em", "en", "er", "ex", "fa", "fe", "fi", "fo", "ga", "ge",
	"gi", "go", "gtk", "ha", "he", "hi", "ho", "in", "io", "ja", "ka", "ke", "ki", "la", "le",
	"li", "lo", "lu", "ma", "me", "mi", "mo", "mu", "na", "ne", "ni", "no", "ob", "ol", "on",
	"or", "pa", "pe", "pi", "po", "qt", "ra", "re", "ri", "ro", "sa", "se", "si", "so", "ssl",
	"ta", "te", "ti", "to", "tu", "ul", "un", "ur", "va", "ve", "vi", "wa", "we", "xml", "ya",
	"ze", "zi", "zo", "core", "util", "net", "x", "z", "gl", "db", "fs", "py",
}

var suffixes = []string{"-dev", "-doc", "-utils", "-common", "-data", "-bin", "-tools", "-dbg"}

var arches = []string{"amd64", "all", "amd64", "amd64", "all", "any"}

var maintainers = []string{
	"Debian Go Packaging Team", "Debian Python Team", "Debian Perl Group", "Alice Martin",
	"Bogdan Ivanov", "Chen Wei", "Dana Kowalski", "Emeka Okafor", "Fatima Haddad",
	"Gustavo Silva", "Hana Sato", "Ingrid Larsen", "Debian Science Maintainers",
}

var words = []string{
	"a", "an", "the", "and", "or", "of", "to", "in", "for", "with", "on", "by", "from", "is",
	"are", "this", "that", "it", "as", "be", "can", "which", "library", "package", "provides",
	"contains", "support", "files", "development", "headers", "static", "shared", "module",
	"modules", "interface", "implementation", "tool", "tools", "utility", "command", "line",
	"program", "programs", "data", "format", "formats", "file", "system", "network", "server",
	"client", "protocol", "plugin", "plugins", "extension", "documentation", "manual", "pages",
	"examples", "API", "bindings", "Python", "Perl", "Go", "Rust", "C", "C++", "Java", "Ruby",
	"fast", "simple", "small", "lightweight", "portable", "secure", "free", "open", "source",
	"implementation", "compatible", "based", "using", "used", "allows", "users", "user",
	"applications", "application", "desktop", "graphical", "terminal", "text", "image",
	"audio", "video", "fonts", "font", "game", "engine", "database", "SQL", "query", "queries",
	"cache", "memory", "disk", "storage", "backup", "compression", "encryption", "cryptographic",
	"key", "keys", "certificate", "parser", "parsing", "XML", "JSON", "YAML", "HTTP", "web",
	"framework", "testing", "test", "suite", "debugging", "symbols", "runtime", "compiler",
	"interpreter", "language", "scripts", "script", "configuration", "management", "monitor",
	"monitoring", "log", "logging", "events", "thread", "threads", "parallel", "numerical",
	"scientific", "math", "statistics", "analysis", "visualization", "plot", "editor", "mode",
	"Emacs", "Vim", "GNOME", "KDE", "Qt", "GTK", "X11", "Wayland", "kernel", "driver", "drivers",
	"firmware", "hardware", "device", "devices", "USB", "Bluetooth", "printer", "scanner",
	"Debian", "upstream", "version", "release", "features", "feature", "including", "such",
	"also", "other", "several", "many", "most", "all", "some", "common", "standard", "various",
	"dependency", "metapackage", "transitional", "dummy", "safely", "removed", ".",
}

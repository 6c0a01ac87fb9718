#include "run_binary.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

extern char **environ;

namespace econsim::sim::test {

std::string read_text(const std::string &path)
{
	std::ifstream in(path);
	std::stringstream text;
	text << in.rdbuf();
	return text.str();
}

Exit econ_sim(const std::vector<std::string> &args, const TempDir &dir)
{
	std::vector<std::string> argv_text{ECONSIM_BINARY};
	argv_text.insert(argv_text.end(), args.begin(), args.end());
	std::vector<char *> argv;
	for (std::string &a : argv_text)
		argv.push_back(a.data());
	argv.push_back(nullptr);
	std::string out = (dir.path() / "stdout").string(), err = (dir.path() / "stderr").string();
	posix_spawn_file_actions_t actions;
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	pid_t pid;
	Exit exit;
	if (posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) == 0) {
		int status = 0;
		waitpid(pid, &status, 0);
		exit.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	}
	posix_spawn_file_actions_destroy(&actions);
	exit.out = read_text(out);
	exit.err = read_text(err);
	return exit;
}

} // namespace econsim::sim::test

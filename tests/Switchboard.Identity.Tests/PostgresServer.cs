using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Switchboard.Identity.Tests;

/// <summary>
/// A real PostgreSQL server of the test's own: <c>initdb</c> into a temporary folder and
/// <c>pg_ctl start</c> on a free loopback port (as the <c>postgres</c> user when the tests run as
/// root, which PostgreSQL refuses to run as). Stopped and deleted on dispose.
/// </summary>
internal sealed class PostgresServer : IAsyncDisposable
{
    private readonly string _bin;
    private readonly string _folder;

    private PostgresServer(string bin, string folder, int port)
    {
        _bin = bin;
        _folder = folder;
        Port = port;
    }

    public int Port { get; }

    public string ConnectionString(string database) => $"Host=127.0.0.1;Port={Port};Username=postgres;Database={database};Pooling=true";

    public static async Task<PostgresServer> StartAsync()
    {
        var bin = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "initdb"))).OrderDescending().FirstOrDefault()
            : null;
        if (bin is null)
        {
            throw new InvalidOperationException("PostgreSQL is not installed (apt-get install postgresql): no /usr/lib/postgresql/*/bin/initdb");
        }
        var folder = Path.Combine(Path.GetTempPath(), $"switchboard-pg-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        if (Environment.UserName == "root")
        {
            await RunAsync("chown", $"postgres:postgres {folder}", asPostgres: false);
        }
        var port = FreePort();
        var server = new PostgresServer(bin, folder, port);
        await RunAsync(Path.Combine(bin, "initdb"), $"-D {folder}/data -U postgres -A trust --no-sync -E UTF8", asPostgres: true);
        await RunAsync(Path.Combine(bin, "pg_ctl"),
            $"-D {folder}/data -l {folder}/log -w -t 60 -o \"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off\" start",
            asPostgres: true);
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await RunAsync(Path.Combine(_bin, "pg_ctl"), $"-D {_folder}/data -m immediate -w stop", asPostgres: true);
        }
        finally
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task RunAsync(string file, string arguments, bool asPostgres)
    {
        var start = asPostgres && Environment.UserName == "root"
            ? new ProcessStartInfo("su", ["postgres", "-s", "/bin/sh", "-c", $"{file} {arguments}"])
            : new ProcessStartInfo("/bin/sh", ["-c", $"{file} {arguments}"]);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.WorkingDirectory = Path.GetTempPath();
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {arguments} exited {process.ExitCode}: {await output} {await error}");
        }
    }
}

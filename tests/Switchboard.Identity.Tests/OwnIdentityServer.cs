namespace Switchboard.Identity.Tests;

/// <summary>
/// A test class's own server with the identity server on, with settings of its own (clock jumps
/// or rate limits that must not touch the shared fixtures): a fixture creates the database, then
/// this server runs on it with <see cref="ExtraArguments"/>.
/// </summary>
public abstract class OwnIdentityServer : IAsyncLifetime
{
    private readonly IdentityServer _database = new();
    private InProcessServer? _server;

    private protected InProcessServer Server => _server ?? throw new InvalidOperationException("not started");

    protected abstract string[] ExtraArguments { get; }

    public async Task InitializeAsync()
    {
        await _database.InitializeAsync();
        await _database.StopServerAsync();
        _server = await InProcessServer.StartAsync([.. _database.Arguments, .. ExtraArguments]);
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
        await _database.DisposeAsync();
    }
}

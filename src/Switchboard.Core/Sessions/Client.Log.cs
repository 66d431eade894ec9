using Microsoft.Extensions.Logging;

namespace Switchboard.Sessions;

internal sealed partial class Client
{
    private static partial class Log
    {
        [LoggerMessage(1001, LogLevel.Debug, "Client {ClientId} connected as user '{User}' over {Transport}")]
        public static partial void Connected(ILogger logger, string clientId, string user, string transport);

        [LoggerMessage(1002, LogLevel.Debug, "Disconnecting client {ClientId} (user '{User}'): {Code} {Reason}")]
        public static partial void Disconnecting(ILogger logger, string clientId, string user, int code, string reason);

        [LoggerMessage(1003, LogLevel.Warning, "Client {ClientId} is too slow: {QueuedBytes} bytes queued")]
        public static partial void SlowClient(ILogger logger, string clientId, long queuedBytes);

        [LoggerMessage(1004, LogLevel.Debug, "Write to client {ClientId} failed")]
        public static partial void WriteFailed(ILogger logger, string clientId, Exception exception);

        [LoggerMessage(1005, LogLevel.Debug, "Closing client {ClientId} failed")]
        public static partial void CloseFailed(ILogger logger, string clientId, Exception exception);

        [LoggerMessage(1006, LogLevel.Error, "Command of client {ClientId} failed")]
        public static partial void CommandFailed(ILogger logger, string clientId, Exception exception);

        [LoggerMessage(1007, LogLevel.Trace, "Client {ClientId}: {Method} handled in {Milliseconds} ms")]
        public static partial void CommandHandled(ILogger logger, string clientId, string method, double milliseconds);

        [LoggerMessage(1008, LogLevel.Information, "Client {ClientId}: token refused ({Reason})")]
        public static partial void InvalidToken(ILogger logger, string clientId, string reason);

        [LoggerMessage(1009, LogLevel.Warning, "Client {ClientId}: server-side subscription to '{Channel}' skipped: unknown channel")]
        public static partial void ServerSubscribeSkipped(ILogger logger, string clientId, string channel);

        [LoggerMessage(1010, LogLevel.Warning, "Client {ClientId}: gap in '{Channel}' (had {Offset}, got {Received}): unsubscribing with insufficient state")]
        public static partial void InsufficientState(ILogger logger, string clientId, string channel, ulong offset, ulong received);

        [LoggerMessage(1011, LogLevel.Warning, "Client {ClientId}: stream of '{Channel}' changed epoch ({Epoch} to {NewEpoch}): unsubscribing with insufficient state")]
        public static partial void EpochChanged(ILogger logger, string clientId, string channel, string epoch, string newEpoch);
    }
}
